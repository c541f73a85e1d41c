// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {Governed} from "./Governed.sol";

interface ILedgerSpend {
    function spendFund(address user, uint256 amount) external;
}

/// Inference services and the users' sub-accounts with their providers, with the ABI of 0G's
/// user SDK (the npm package 0g-serving-broker 0.7 of 0glabs), placed in the dev genesis at the address the SDK
/// picks for chain id 31337.
///
/// A provider registers a service (url, model, prices per token, the signer that signs its
/// fee batches) with a stake; the contract owner acknowledges the signer, the user acknowledges
/// the provider. A sub-account is funded only by the ledger. The provider is paid by
/// `settleFeesWithTEE`: each settlement is `(user, provider, totalFee, requestsHash, nonce)`
/// signed by the acknowledged signer (`personal_sign` over
/// `keccak256(abi.encodePacked(requestsHash, nonce, provider, user, totalFee))`); nonces
/// strictly increase per sub-account, so a batch pays once. Fees come out of the balance not
/// being refunded first, then out of the newest pending refunds. A refund waits `lockTime`
/// seconds, so a provider can always settle what it served before the user's money leaves.
contract InferenceServing {
    uint256 public constant MIN_LOCKTIME = 1;
    uint256 public constant MAX_LOCKTIME = 7 days;
    uint256 public constant MIN_PROVIDER_STAKE = 100 ether;
    uint256 public constant MAX_REFUNDS = 30;
    uint256 public constant MAX_SETTLEMENTS = 50;
    uint256 public constant MAX_PAGE = 50;
    uint256 public constant MAX_ADDITIONAL_INFO_LENGTH = 4096;

    uint8 public constant SUCCESS = 0;
    uint8 public constant PARTIAL = 1;
    uint8 public constant PROVIDER_MISMATCH = 2;
    uint8 public constant NO_TEE_SIGNER = 3;
    uint8 public constant INVALID_NONCE = 4;
    uint8 public constant INVALID_SIGNATURE = 5;
    uint8 public constant NOT_ACKNOWLEDGED = 6;
    uint8 public constant NO_ACCOUNT = 7;

    struct Refund {
        uint256 index;
        uint256 amount;
        uint256 createdAt;
        bool processed;
    }

    struct Account {
        address user;
        address provider;
        uint256 nonce;
        uint256 balance;
        uint256 pendingRefund;
        Refund[] refunds;
        string additionalInfo;
        bool acknowledged;
        uint256 validRefundsLength;
        uint256 generation;
        uint256 revokedBitmap;
    }

    struct Service {
        address provider;
        string serviceType;
        string url;
        uint256 inputPrice;
        uint256 outputPrice;
        uint256 updatedAt;
        string model;
        string verifiability;
        string additionalInfo;
        address teeSignerAddress;
        bool teeSignerAcknowledged;
    }

    struct ServiceParams {
        string serviceType;
        string url;
        string model;
        string verifiability;
        uint256 inputPrice;
        uint256 outputPrice;
        string additionalInfo;
        address teeSignerAddress;
    }

    struct TEESettlementData {
        address user;
        address provider;
        uint256 totalFee;
        bytes32 requestsHash;
        uint256 nonce;
        bytes signature;
    }

    event AccountDeleted(address indexed user, address indexed provider, uint256 refundedAmount);
    event AllTokensRevoked(address indexed user, address indexed provider, uint256 newGeneration);
    event BalanceUpdated(address indexed user, address indexed provider, uint256 amount, uint256 pendingRefund);
    event LockTimeUpdated(uint256 oldLockTime, uint256 newLockTime);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event ProviderStaked(address indexed provider, uint256 amount);
    event ProviderStakeReturned(address indexed provider, uint256 amount);
    event ProviderTEESignerAcknowledged(address indexed provider, address indexed teeSignerAddress, bool acknowledged);
    event RefundRequested(address indexed user, address indexed provider, uint256 indexed index, uint256 timestamp);
    event ServiceRemoved(address indexed service);
    event ServiceUpdated(
        address indexed service,
        string serviceType,
        string url,
        uint256 inputPrice,
        uint256 outputPrice,
        uint256 updatedAt,
        string model,
        string verifiability
    );
    event TEESettlementResult(address indexed user, uint8 status, uint256 unsettledAmount);
    event TokenRevoked(address indexed user, address indexed provider, uint8 tokenId);
    event TokensRevoked(address indexed user, address indexed provider, uint8[] tokenIds);

    error AccountExists(address user, address provider);
    error AccountNotExists(address user, address provider);
    error AdditionalInfoTooLong();
    error AlreadyInitialized();
    error BatchSizeTooLarge(uint256 size, uint256 max);
    error CallerNotLedger(address caller);
    error CannotAddStakeWhenUpdating();
    error CannotRevokeWithNonZeroBalance(address user, address provider, uint256 balance);
    error InsufficientStake(uint256 provided, uint256 required);
    error InvalidAddress(address addr);
    error LimitTooLarge(uint256 limit, uint256 max);
    error LockTimeOutOfRange(uint256 lockTime, uint256 min, uint256 max);
    error NoSettlementsProvided();
    error ProviderCannotBeUser();
    error ServiceNotExist(address provider);
    error TooManyRefunds(address user, address provider);
    error TooManySettlements(uint256 count, uint256 max);
    error TransferFailed();
    error OwnableUnauthorized(address caller);
    error InvalidTokenId(uint8 tokenId);

    address public owner;
    address public ledgerAddress;
    uint256 public lockTime;

    mapping(bytes32 => Account) private accounts;
    bytes32[] private accountKeys;
    mapping(bytes32 => uint256) private accountSlot;
    mapping(address => bytes32[]) private keysOfUser;
    mapping(address => bytes32[]) private keysOfProvider;

    mapping(address => Service) private services;
    mapping(address => uint256) private stakes;
    address[] private providers;
    mapping(address => uint256) private providerSlot;

    constructor(address initialOwner, address ledger, uint256 initialLockTime) {
        if (initialLockTime < MIN_LOCKTIME || initialLockTime > MAX_LOCKTIME) {
            revert LockTimeOutOfRange(initialLockTime, MIN_LOCKTIME, MAX_LOCKTIME);
        }
        owner = initialOwner;
        ledgerAddress = ledger;
        lockTime = initialLockTime;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OwnableUnauthorized(msg.sender);
        _;
    }

    modifier onlyLedger() {
        if (msg.sender != ledgerAddress) revert CallerNotLedger(msg.sender);
        _;
    }

    function initialize(uint256, address, address) external pure {
        revert AlreadyInitialized();
    }

    function initialized() external pure returns (bool) {
        return true;
    }

    function supportsInterface(bytes4 interfaceId) external pure returns (bool) {
        return interfaceId == 0x01ffc9a7 || interfaceId == this.addAccount.selector ^ this.depositFund.selector
            ^ this.requestRefundAll.selector ^ this.processRefund.selector ^ this.deleteAccount.selector;
    }

    // ---- accounts (funded and drained by the ledger) ----

    function accountExists(address user, address provider) public view returns (bool) {
        return accountSlot[_key(user, provider)] != 0;
    }

    function addAccount(address user, address provider, string calldata additionalInfo) external payable onlyLedger {
        if (user == provider) revert ProviderCannotBeUser();
        bytes32 key = _key(user, provider);
        if (accountSlot[key] != 0) revert AccountExists(user, provider);
        if (bytes(additionalInfo).length > MAX_ADDITIONAL_INFO_LENGTH) revert AdditionalInfoTooLong();
        accountKeys.push(key);
        accountSlot[key] = accountKeys.length;
        keysOfUser[user].push(key);
        keysOfProvider[provider].push(key);
        Account storage account = accounts[key];
        account.user = user;
        account.provider = provider;
        account.balance = msg.value;
        account.additionalInfo = additionalInfo;
        emit BalanceUpdated(user, provider, account.balance, 0);
    }

    /// The ledger adds `msg.value` and cancels `cancelRetrievingAmount` of the pending refunds,
    /// newest first.
    function depositFund(address user, address provider, uint256 cancelRetrievingAmount) external payable onlyLedger {
        Account storage account = _account(user, provider);
        _takeFromRefunds(account, cancelRetrievingAmount);
        account.balance += msg.value;
        emit BalanceUpdated(user, provider, account.balance, account.pendingRefund);
    }

    function requestRefundAll(address user, address provider) external onlyLedger {
        Account storage account = _account(user, provider);
        uint256 amount = account.balance - account.pendingRefund;
        if (amount == 0) return;
        if (account.validRefundsLength >= MAX_REFUNDS) revert TooManyRefunds(user, provider);
        uint256 index = account.refunds.length;
        account.refunds.push(Refund(index, amount, block.timestamp, false));
        account.pendingRefund += amount;
        account.validRefundsLength += 1;
        emit RefundRequested(user, provider, index, block.timestamp);
    }

    /// Pays the ledger every refund whose lock time has passed.
    function processRefund(address user, address provider)
        external
        onlyLedger
        returns (uint256 totalAmount, uint256 balance, uint256 pendingRefund)
    {
        Account storage account = _account(user, provider);
        uint256 valid;
        for (uint256 i = 0; i < account.refunds.length; i++) {
            Refund storage refund = account.refunds[i];
            if (refund.processed || refund.amount == 0) continue;
            if (block.timestamp < refund.createdAt + lockTime) {
                valid++;
                continue;
            }
            refund.processed = true;
            totalAmount += refund.amount;
        }
        account.balance -= totalAmount;
        account.pendingRefund -= totalAmount;
        account.validRefundsLength = valid;
        if (totalAmount > 0) {
            _send(ledgerAddress, totalAmount);
            emit BalanceUpdated(user, provider, account.balance, account.pendingRefund);
        }
        return (totalAmount, account.balance, account.pendingRefund);
    }

    function deleteAccount(address user, address provider) external onlyLedger {
        bytes32 key = _key(user, provider);
        uint256 slot = accountSlot[key];
        if (slot == 0) revert AccountNotExists(user, provider);
        uint256 left = accounts[key].balance;
        if (left > 0) _send(ledgerAddress, left);
        bytes32 last = accountKeys[accountKeys.length - 1];
        accountKeys[slot - 1] = last;
        accountSlot[last] = slot;
        accountKeys.pop();
        _dropKey(keysOfUser[user], key);
        _dropKey(keysOfProvider[provider], key);
        delete accountSlot[key];
        delete accounts[key];
        emit AccountDeleted(user, provider, left);
    }

    /// The user trusts (or stops trusting) the owner's acknowledgement of `provider`'s signer.
    function acknowledgeTEESigner(address provider, bool acknowledged) external {
        Account storage account = _account(msg.sender, provider);
        if (!acknowledged && account.balance > 0) {
            revert CannotRevokeWithNonZeroBalance(msg.sender, provider, account.balance);
        }
        account.acknowledged = acknowledged;
    }

    function getAccount(address user, address provider) external view returns (Account memory) {
        return _account(user, provider);
    }

    function getPendingRefund(address user, address provider) external view returns (uint256) {
        return _account(user, provider).pendingRefund;
    }

    function getAllAccounts(uint256 offset, uint256 limit) external view returns (Account[] memory, uint256 total) {
        return _page(accountKeys, offset, limit);
    }

    function getAccountsByUser(address user, uint256 offset, uint256 limit) external view returns (Account[] memory, uint256) {
        return _page(keysOfUser[user], offset, limit);
    }

    function getAccountsByProvider(address provider, uint256 offset, uint256 limit) external view returns (Account[] memory, uint256) {
        return _page(keysOfProvider[provider], offset, limit);
    }

    /// The caller's (a provider's) sub-accounts with `users`; users without one come back empty.
    function getBatchAccountsByUsers(address[] calldata users) external view returns (Account[] memory result) {
        if (users.length > 500) revert BatchSizeTooLarge(users.length, 500);
        result = new Account[](users.length);
        for (uint256 i = 0; i < users.length; i++) {
            result[i] = accounts[_key(users[i], msg.sender)];
        }
    }

    // ---- API-key revocation (the provider checks it before serving) ----

    function revokeToken(address provider, uint8 tokenId) external {
        _revoke(_account(msg.sender, provider), tokenId);
        emit TokenRevoked(msg.sender, provider, tokenId);
    }

    function revokeTokens(address provider, uint8[] calldata tokenIds) external {
        Account storage account = _account(msg.sender, provider);
        for (uint256 i = 0; i < tokenIds.length; i++) {
            _revoke(account, tokenIds[i]);
        }
        emit TokensRevoked(msg.sender, provider, tokenIds);
    }

    /// Invalidates every token issued so far: tokens carry the generation they were made in.
    function revokeAllTokens(address provider) external {
        Account storage account = _account(msg.sender, provider);
        account.generation += 1;
        account.revokedBitmap = 0;
        emit AllTokensRevoked(msg.sender, provider, account.generation);
    }

    function isTokenRevoked(address user, address provider, uint8 tokenId) external view returns (bool) {
        return (_account(user, provider).revokedBitmap >> tokenId) & 1 == 1;
    }

    // ---- services ----

    /// The stake a new provider puts up now: ChainParams' `computeMinStake` where governance set
    /// one, else MIN_PROVIDER_STAKE.
    function minProviderStake() public view returns (uint256) {
        return Governed.value(bytes4(keccak256("computeMinStake()")), MIN_PROVIDER_STAKE);
    }

    /// Registers (with a stake of at least MIN_PROVIDER_STAKE) or updates (no value) the
    /// caller's service. A changed signer needs the owner's acknowledgement again.
    function addOrUpdateService(ServiceParams calldata params) external payable {
        if (params.teeSignerAddress == address(0)) revert InvalidAddress(params.teeSignerAddress);
        if (bytes(params.additionalInfo).length > MAX_ADDITIONAL_INFO_LENGTH) revert AdditionalInfoTooLong();
        Service storage service = services[msg.sender];
        if (providerSlot[msg.sender] == 0) {
            uint256 required = minProviderStake();
            if (msg.value < required) revert InsufficientStake(msg.value, required);
            providers.push(msg.sender);
            providerSlot[msg.sender] = providers.length;
            stakes[msg.sender] = msg.value;
            service.provider = msg.sender;
            emit ProviderStaked(msg.sender, msg.value);
        } else if (msg.value > 0) {
            revert CannotAddStakeWhenUpdating();
        }
        if (service.teeSignerAddress != params.teeSignerAddress) {
            service.teeSignerAcknowledged = false;
        }
        service.serviceType = params.serviceType;
        service.url = params.url;
        service.model = params.model;
        service.verifiability = params.verifiability;
        service.inputPrice = params.inputPrice;
        service.outputPrice = params.outputPrice;
        service.additionalInfo = params.additionalInfo;
        service.teeSignerAddress = params.teeSignerAddress;
        service.updatedAt = block.timestamp;
        emit ServiceUpdated(
            msg.sender, params.serviceType, params.url, params.inputPrice, params.outputPrice, block.timestamp, params.model, params.verifiability
        );
    }

    function removeService() external {
        uint256 slot = providerSlot[msg.sender];
        if (slot == 0) revert ServiceNotExist(msg.sender);
        address last = providers[providers.length - 1];
        providers[slot - 1] = last;
        providerSlot[last] = slot;
        providers.pop();
        delete providerSlot[msg.sender];
        delete services[msg.sender];
        uint256 stake = stakes[msg.sender];
        delete stakes[msg.sender];
        emit ServiceRemoved(msg.sender);
        if (stake > 0) {
            _send(msg.sender, stake);
            emit ProviderStakeReturned(msg.sender, stake);
        }
    }

    function serviceExists(address provider) external view returns (bool) {
        return providerSlot[provider] != 0;
    }

    function getService(address provider) external view returns (Service memory service) {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        return services[provider];
    }

    function getAllServices(uint256 offset, uint256 limit) external view returns (Service[] memory result, uint256 total) {
        if (limit > MAX_PAGE) revert LimitTooLarge(limit, MAX_PAGE);
        total = providers.length;
        uint256 end = limit == 0 || offset + limit > total ? total : offset + limit;
        if (offset >= end) return (new Service[](0), total);
        result = new Service[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            result[i - offset] = services[providers[i]];
        }
    }

    function acknowledgeTEESignerByOwner(address provider) external onlyOwner {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        Service storage service = services[provider];
        service.teeSignerAcknowledged = true;
        emit ProviderTEESignerAcknowledged(provider, service.teeSignerAddress, true);
    }

    function revokeTEESignerAcknowledgement(address provider) external onlyOwner {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        Service storage service = services[provider];
        service.teeSignerAcknowledged = false;
        emit ProviderTEESignerAcknowledged(provider, service.teeSignerAddress, false);
    }

    // ---- settlement ----

    /// Settles signed fee batches for the caller (the provider); one status per settlement,
    /// and the caller is paid what settled.
    function settleFeesWithTEE(TEESettlementData[] calldata settlements) external returns (uint8[] memory statuses) {
        if (settlements.length == 0) revert NoSettlementsProvided();
        if (settlements.length > MAX_SETTLEMENTS) revert TooManySettlements(settlements.length, MAX_SETTLEMENTS);
        statuses = new uint8[](settlements.length);
        uint256 paid;
        for (uint256 i = 0; i < settlements.length; i++) {
            (uint8 status, uint256 unsettled, uint256 settled) = _settle(settlements[i]);
            statuses[i] = status;
            paid += settled;
            emit TEESettlementResult(settlements[i].user, status, unsettled);
        }
        if (paid > 0) _send(msg.sender, paid);
    }

    /// What `settleFeesWithTEE` would do, without doing it.
    function previewSettlementResults(TEESettlementData[] calldata settlements)
        external
        view
        returns (address[] memory failedUsers, uint8[] memory failureReasons, address[] memory partialUsers, uint256[] memory partialAmounts)
    {
        failedUsers = new address[](settlements.length);
        failureReasons = new uint8[](settlements.length);
        partialUsers = new address[](settlements.length);
        partialAmounts = new uint256[](settlements.length);
        uint256 failed;
        uint256 partials;
        for (uint256 i = 0; i < settlements.length; i++) {
            TEESettlementData calldata s = settlements[i];
            uint8 status = _check(s);
            if (status == SUCCESS) {
                uint256 balance = accounts[_key(s.user, s.provider)].balance;
                if (s.totalFee > balance) {
                    (partialUsers[partials], partialAmounts[partials]) = (s.user, s.totalFee - balance);
                    partials++;
                }
            } else {
                (failedUsers[failed], failureReasons[failed]) = (s.user, status);
                failed++;
            }
        }
        assembly {
            mstore(failedUsers, failed)
            mstore(failureReasons, failed)
            mstore(partialUsers, partials)
            mstore(partialAmounts, partials)
        }
    }

    // ---- owner ----

    function updateLockTime(uint256 newLockTime) external onlyOwner {
        if (newLockTime < MIN_LOCKTIME || newLockTime > MAX_LOCKTIME) revert LockTimeOutOfRange(newLockTime, MIN_LOCKTIME, MAX_LOCKTIME);
        emit LockTimeUpdated(lockTime, newLockTime);
        lockTime = newLockTime;
    }

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function renounceOwnership() external onlyOwner {
        emit OwnershipTransferred(owner, address(0));
        owner = address(0);
    }

    // ---- internals ----

    function _check(TEESettlementData calldata s) private view returns (uint8) {
        if (s.provider != msg.sender || providerSlot[s.provider] == 0) return PROVIDER_MISMATCH;
        Service storage service = services[s.provider];
        if (!service.teeSignerAcknowledged || service.teeSignerAddress == address(0)) return NO_TEE_SIGNER;
        bytes32 key = _key(s.user, s.provider);
        if (accountSlot[key] == 0) return NO_ACCOUNT;
        Account storage account = accounts[key];
        if (!account.acknowledged) return NOT_ACKNOWLEDGED;
        if (s.nonce <= account.nonce) return INVALID_NONCE;
        if (_signer(s) != service.teeSignerAddress) return INVALID_SIGNATURE;
        return SUCCESS;
    }

    function _settle(TEESettlementData calldata s) private returns (uint8 status, uint256 unsettled, uint256 settled) {
        status = _check(s);
        if (status != SUCCESS) return (status, s.totalFee, 0);
        Account storage account = accounts[_key(s.user, s.provider)];
        account.nonce = s.nonce;
        settled = s.totalFee > account.balance ? account.balance : s.totalFee;
        unsettled = s.totalFee - settled;
        uint256 unlocked = account.balance - account.pendingRefund;
        if (settled > unlocked) _takeFromRefunds(account, settled - unlocked);
        account.balance -= settled;
        if (settled > 0) ILedgerSpend(ledgerAddress).spendFund(s.user, settled);
        emit BalanceUpdated(s.user, s.provider, account.balance, account.pendingRefund);
        if (unsettled > 0) status = PARTIAL;
    }

    /// The settlement's signer: `personal_sign` over the packed settlement, or zero when the
    /// signature is malformed.
    function _signer(TEESettlementData calldata s) private pure returns (address) {
        if (s.signature.length != 65) return address(0);
        bytes32 digest = keccak256(abi.encodePacked(s.requestsHash, s.nonce, s.provider, s.user, s.totalFee));
        bytes32 signed = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
        bytes32 r = bytes32(s.signature[0:32]);
        bytes32 sv = bytes32(s.signature[32:64]);
        uint8 v = uint8(s.signature[64]);
        if (v < 27) v += 27;
        // Only low-s signatures: the other half of the curve would let anyone re-sign a batch.
        if (uint256(sv) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) return address(0);
        return ecrecover(signed, v, r, sv);
    }

    /// Lowers the pending refunds by `amount`, newest first.
    function _takeFromRefunds(Account storage account, uint256 amount) private {
        if (amount > account.pendingRefund) amount = account.pendingRefund;
        account.pendingRefund -= amount;
        for (uint256 i = account.refunds.length; i > 0 && amount > 0; i--) {
            Refund storage refund = account.refunds[i - 1];
            if (refund.processed || refund.amount == 0) continue;
            uint256 taken = refund.amount < amount ? refund.amount : amount;
            refund.amount -= taken;
            amount -= taken;
            if (refund.amount == 0) {
                refund.processed = true;
                account.validRefundsLength -= 1;
            }
        }
    }

    function _revoke(Account storage account, uint8 tokenId) private {
        if (tokenId == 255) revert InvalidTokenId(tokenId);
        account.revokedBitmap |= uint256(1) << tokenId;
    }

    function _page(bytes32[] storage keys, uint256 offset, uint256 limit) private view returns (Account[] memory result, uint256 total) {
        if (limit > MAX_PAGE) revert LimitTooLarge(limit, MAX_PAGE);
        total = keys.length;
        uint256 end = limit == 0 || offset + limit > total ? total : offset + limit;
        if (offset >= end) return (new Account[](0), total);
        result = new Account[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            result[i - offset] = accounts[keys[i]];
        }
    }

    function _dropKey(bytes32[] storage keys, bytes32 key) private {
        for (uint256 i = 0; i < keys.length; i++) {
            if (keys[i] == key) {
                keys[i] = keys[keys.length - 1];
                keys.pop();
                return;
            }
        }
    }

    function _account(address user, address provider) private view returns (Account storage account) {
        bytes32 key = _key(user, provider);
        if (accountSlot[key] == 0) revert AccountNotExists(user, provider);
        return accounts[key];
    }

    function _key(address user, address provider) private pure returns (bytes32) {
        return keccak256(abi.encode(user, provider));
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
