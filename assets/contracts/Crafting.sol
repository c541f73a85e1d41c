// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// The on-chain half of the crafting game in `examples/crafting_game.rs`: players gather wood and
/// stone, craft tools from them, and each tool scores. Every move is a transaction; the game
/// reads its state back from the events.
contract Crafting {
    uint8 public constant WOOD = 0;
    uint8 public constant STONE = 1;
    uint32 public constant TOOL_WOOD = 2;
    uint32 public constant TOOL_STONE = 1;
    uint32 public constant TOOL_SCORE = 10;

    struct Inventory {
        uint32 wood;
        uint32 stone;
        uint32 tools;
        uint32 score;
    }

    mapping(address => Inventory) private inventories;

    event Gathered(address indexed player, uint8 resource, uint32 wood, uint32 stone);
    event Crafted(address indexed player, uint32 tools, uint32 score, uint32 wood, uint32 stone);

    error UnknownResource(uint8 resource);
    error NotEnough(uint8 resource, uint32 have, uint32 need);

    function gather(uint8 resource) external {
        Inventory storage inventory = inventories[msg.sender];
        if (resource == WOOD) {
            inventory.wood += 1;
        } else if (resource == STONE) {
            inventory.stone += 1;
        } else {
            revert UnknownResource(resource);
        }
        emit Gathered(msg.sender, resource, inventory.wood, inventory.stone);
    }

    /// A tool costs TOOL_WOOD wood and TOOL_STONE stone and scores TOOL_SCORE.
    function craftTool() external {
        Inventory storage inventory = inventories[msg.sender];
        if (inventory.wood < TOOL_WOOD) revert NotEnough(WOOD, inventory.wood, TOOL_WOOD);
        if (inventory.stone < TOOL_STONE) revert NotEnough(STONE, inventory.stone, TOOL_STONE);
        inventory.wood -= TOOL_WOOD;
        inventory.stone -= TOOL_STONE;
        inventory.tools += 1;
        inventory.score += TOOL_SCORE;
        emit Crafted(msg.sender, inventory.tools, inventory.score, inventory.wood, inventory.stone);
    }

    function inventoryOf(address player) external view returns (uint32 wood, uint32 stone, uint32 tools, uint32 score) {
        Inventory storage inventory = inventories[player];
        return (inventory.wood, inventory.stone, inventory.tools, inventory.score);
    }
}
