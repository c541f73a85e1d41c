//! A small game on chain, headless: eight players gather wood and stone and craft tools in the
//! `Crafting` contract (`assets/contracts/Crafting.sol`), driven by a bevy `App` at a fixed 60 Hz
//! with a block every frame. Players are entities; every move is a transaction; each player's
//! inventory is read back from the chain's events, frame by frame, and checked against the
//! contract's own state at the end.
//!
//! `cargo run --features bevy --example crafting_game -- [frames]` (default 600: ten game seconds).

use alloy_primitives::{Address, Bytes};
use alloy_sol_types::sol;
use bevy_app::{App, Update};
use bevy_ecs::prelude::*;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use zgnode::assembly::bevy_plugin::{ChainLog, ChainReceipt, ChainSubmitted, ChainTx, ChainHeadInfo, ChainFault};
use zgnode::{NodeBuilder, TxRequest, ZgNodePlugin, dev::dev_accounts};

sol! {
    contract Crafting {
        event Gathered(address indexed player, uint8 resource, uint32 wood, uint32 stone);
        event Crafted(address indexed player, uint32 tools, uint32 score, uint32 wood, uint32 stone);
        function gather(uint8 resource) external;
        function craftTool() external;
        function inventoryOf(address player) external view returns (uint32 wood, uint32 stone, uint32 tools, uint32 score);
    }
}

const PLAYERS: usize = 8;
const WOOD: u8 = 0;
const STONE: u8 = 1;
/// Enough for any move: a first gather writes a fresh storage slot.
const MOVE_GAS: u64 = 120_000;

#[derive(Component)]
struct Player {
    account: Address,
    /// Moves on one frame in `pace`: players differ in speed, so the board has an order.
    pace: u64,
    /// Waiting for this player's last move to land (or be refused).
    in_flight: bool,
}

/// What the chain's events say this player holds.
#[derive(Component, Default, Debug, Clone, Copy, PartialEq, Eq)]
struct Inventory {
    wood: u32,
    stone: u32,
    tools: u32,
    score: u32,
}

#[derive(Resource)]
struct Game {
    contract: Address,
    players: HashMap<Address, Entity>,
    moves_sent: u64,
    moves_mined: u64,
    moves_refused: u64,
    /// Off for the last frame, which only reads what the chain committed in the one before.
    playing: bool,
    frame: u64,
}

fn main() -> anyhow::Result<()> {
    let frames: u64 = std::env::args().nth(1).map(|f| f.parse()).transpose()?.unwrap_or(600);
    let (mut node, chain) = NodeBuilder::dev().block_time(Duration::from_millis(16)).skip_empty_blocks().build()?;

    // Deploy the game's contract before play starts.
    let artifact: serde_json::Value = serde_json::from_str(include_str!("../assets/contracts/Crafting.json"))?;
    let code: Bytes = artifact["bytecode"].as_str().unwrap_or_default().parse()?;
    let deployer = dev_accounts()[0].address;
    let deploy = chain.send(deployer, TxRequest::deploy(code))?;
    let mut now_ms = zgnode::node::now_ms();
    let contract = loop {
        now_ms += 16;
        node.tick(now_ms)?;
        if let Some(receipt) = chain.receipt(deploy.hash())? {
            break receipt.contract_address_opt().ok_or_else(|| anyhow::anyhow!("the deployment failed"))?;
        }
    };

    let mut app = App::new();
    app.add_plugins(ZgNodePlugin::with_node(node, chain.clone()).fixed_rate(60.0))
        .insert_resource(Game { contract, players: HashMap::new(), moves_sent: 0, moves_mined: 0, moves_refused: 0, playing: true, frame: 0 })
        .add_systems(Update, (read_chain, choose_moves).chain());
    let players: Vec<Address> = dev_accounts()[1..=PLAYERS].iter().map(|account| account.address).collect();
    for (index, account) in players.iter().enumerate() {
        let player = Player { account: *account, pace: 1 + index as u64 % 4, in_flight: false };
        let entity = app.world_mut().spawn((player, Inventory::default())).id();
        app.world_mut().resource_mut::<Game>().players.insert(*account, entity);
    }

    let started = Instant::now();
    for _ in 0..frames {
        app.update();
        if let Some(fault) = &app.world().resource::<ChainFault>().0 {
            anyhow::bail!("the chain stopped: {fault}");
        }
    }
    let took = started.elapsed();
    app.world_mut().resource_mut::<Game>().playing = false;
    app.update();

    // What the events built up must be what the contract holds.
    let head = *app.world().resource::<ChainHeadInfo>();
    let game = app.world().resource::<Game>();
    let (sent, mined, refused) = (game.moves_sent, game.moves_mined, game.moves_refused);
    let mut board: Vec<(Address, Inventory)> = Vec::new();
    for account in &players {
        let entity = game.players[account];
        let seen = *app.world().get::<Inventory>(entity).ok_or_else(|| anyhow::anyhow!("player entity gone"))?;
        let on_chain = chain.call_sol(contract, &Crafting::inventoryOfCall { player: *account })?;
        let held = Inventory { wood: on_chain.wood, stone: on_chain.stone, tools: on_chain.tools, score: on_chain.score };
        anyhow::ensure!(seen == held, "player {account}: the events say {seen:?}, the contract holds {held:?}");
        board.push((*account, seen));
    }
    board.sort_by_key(|(_, inventory)| std::cmp::Reverse(inventory.score));
    println!("{frames} frames at 60 Hz in {:.2} s: {sent} moves sent, {mined} mined, {refused} refused; head block {}", took.as_secs_f64(), head.number);
    for (rank, (account, inventory)) in board.iter().enumerate() {
        println!("#{} {account}: score {} ({} tools, {} wood, {} stone)", rank + 1, inventory.score, inventory.tools, inventory.wood, inventory.stone);
    }
    anyhow::ensure!(mined > 0, "no move was mined");
    println!("events and contract state agree");
    Ok(())
}

/// Chain → game: mirror the inventories from the contract's events; a player whose move landed
/// (or was refused) may move again.
fn read_chain(
    mut game: ResMut<Game>,
    mut logs: MessageReader<ChainLog>,
    mut receipts: MessageReader<ChainReceipt>,
    mut verdicts: MessageReader<ChainSubmitted>,
    mut players: Query<(&mut Player, &mut Inventory)>,
) {
    for ChainLog(event) in logs.read() {
        if event.address() != game.contract {
            continue;
        }
        let (player, update) = if let Ok(gathered) = event.decode::<Crafting::Gathered>() {
            (gathered.player, (gathered.wood, gathered.stone, None))
        } else if let Ok(crafted) = event.decode::<Crafting::Crafted>() {
            (crafted.player, (crafted.wood, crafted.stone, Some((crafted.tools, crafted.score))))
        } else {
            continue;
        };
        let Some(&entity) = game.players.get(&player) else { continue };
        if let Ok((_, mut inventory)) = players.get_mut(entity) {
            (inventory.wood, inventory.stone) = (update.0, update.1);
            if let Some((tools, score)) = update.2 {
                (inventory.tools, inventory.score) = (tools, score);
            }
        }
    }
    for ChainReceipt(receipt) in receipts.read() {
        let Some(&entity) = game.players.get(&receipt.from) else { continue };
        if let Ok((mut player, _)) = players.get_mut(entity) {
            player.in_flight = false;
        }
        game.moves_mined += 1;
    }
    for verdict in verdicts.read() {
        if verdict.result.is_err() {
            game.moves_refused += 1;
            if let Some(Ok((mut player, _))) = verdict.tag.map(|entity| players.get_mut(entity)) {
                player.in_flight = false;
            }
        }
    }
}

/// Game → chain: each idle player makes its next move: craft a tool when it can, else gather
/// what it lacks.
fn choose_moves(mut game: ResMut<Game>, mut players: Query<(Entity, &mut Player, &Inventory)>, mut moves: MessageWriter<ChainTx>) {
    if !game.playing {
        return;
    }
    game.frame += 1;
    let (contract, frame) = (game.contract, game.frame);
    for (entity, mut player, inventory) in &mut players {
        if player.in_flight || frame % player.pace != 0 {
            continue;
        }
        let request = if inventory.wood >= 2 && inventory.stone >= 1 {
            TxRequest::sol(contract, &Crafting::craftToolCall {})
        } else {
            let resource = if inventory.wood < 2 { WOOD } else { STONE };
            TxRequest::sol(contract, &Crafting::gatherCall { resource })
        };
        moves.write(ChainTx { from: player.account, request: request.with_gas(MOVE_GAS), tag: Some(entity) });
        player.in_flight = true;
        game.moves_sent += 1;
    }
}
