// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

interface ILedgerSpendFunds {
    function spendFund(address user, uint256 amount) external;
}

/// Fine-tuning services with the ABI of 0G's user SDK (the npm package 0g-serving-broker 0.7 of 0glabs), placed
/// in the dev genesis at the address the SDK picks for chain id 31337.
///
/// A provider registers its hardware quota, price per token, models and signer (with a stake).
/// For each task it delivers a model whose root hash on 0G storage (our storage lane) it records
/// (`addDeliverable`); the user checks the model and acknowledges it. The provider settles a
/// task with `settleFees`, signed by its acknowledged signer (`personal_sign` over
/// `keccak256(abi.encodePacked(id, encryptedSecret, modelRootHash, nonce, provider, user,
/// taskFee))`): an acknowledged deliverable pays the whole fee and must carry the key to the
/// model (`encryptedSecret`); one the user never acknowledged — `lockTime` after it was added —
/// pays `penaltyPercentage` (30 %) of the fee and carries no secret.
contract FineTuningServing {
    uint256 public constant MIN_LOCKTIME = 1;
    uint256 public constant MAX_LOCKTIME = 7 days;
    uint256 public constant MIN_PROVIDER_STAKE = 100 ether;
    uint256 public constant MAX_REFUNDS = 30;
    uint256 public constant MAX_DELIVERABLES = 20;
    uint256 public constant MAX_PAGE = 50;
    uint256 public constant MAX_ADDITIONAL_INFO_LENGTH = 4096;

    struct Refund {
        uint256 index;
        uint256 amount;
        uint256 createdAt;
        bool _deprecated_processed;
    }

    struct Deliverable {
        string id;
        bytes modelRootHash;
        bytes encryptedSecret;
        bool acknowledged;
        uint248 timestamp;
        bool settled;
    }

    struct Account {
        address user;
        address provider;
        uint256 nonce;
        uint256 balance;
        uint256 pendingRefund;
        Refund[] refunds;
        string additionalInfo;
        Deliverable[] deliverables;
        uint256 validRefundsLength;
        uint256 deliverablesHead;
        uint256 deliverablesCount;
        bool acknowledged;
    }

    struct AccountSummary {
        address user;
        address provider;
        uint256 nonce;
        uint256 balance;
        uint256 pendingRefund;
        string additionalInfo;
        uint256 validRefundsLength;
        uint256 deliverablesCount;
        bool acknowledged;
    }

    struct Quota {
        uint256 cpuCount;
        uint256 nodeMemory;
        uint256 gpuCount;
        uint256 nodeStorage;
        string gpuType;
    }

    struct Service {
        address provider;
        string url;
        Quota quota;
        uint256 pricePerToken;
        bool occupied;
        string[] models;
        address teeSignerAddress;
        bool teeSignerAcknowledged;
    }

    struct VerifierInput {
        string id;
        bytes encryptedSecret;
        bytes modelRootHash;
        uint256 nonce;
        bytes signature;
        uint256 taskFee;
        address user;
    }

    event AccountDeleted(address indexed user, address indexed provider, uint256 refundedAmount);
    event BalanceUpdated(address indexed user, address indexed provider, uint256 amount, uint256 pendingRefund);
    event DeliverableAcknowledged(address indexed user, address indexed provider, string deliverableId, uint256 timestamp);
    event DeliverableAdded(address indexed user, address indexed provider, string deliverableId, bytes modelRootHash, uint256 timestamp);
    event FeesSettled(address indexed user, address indexed provider, string deliverableId, uint256 fee, bool acknowledged, uint256 nonce);
    event LockTimeUpdated(uint256 oldLockTime, uint256 newLockTime);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event ProviderStaked(address indexed provider, uint256 amount);
    event ProviderStakeReturned(address indexed provider, uint256 amount);
    event ProviderTEESignerAcknowledged(address indexed provider, address indexed teeSignerAddress, bool acknowledged);
    event RefundRequested(address indexed user, address indexed provider, uint256 indexed index, uint256 timestamp);
    event ServiceRemoved(address indexed provider);
    event ServiceUpdated(address indexed provider, string url, Quota quota, uint256 pricePerToken, address teeSignerAddress, bool occupied);

    error AccountExists(address user, address provider);
    error AccountNotExists(address user, address provider);
    error AdditionalInfoTooLong();
    error AlreadyInitialized();
    error CallerNotLedger();
    error CannotAcknowledgeSettledDeliverable(string id);
    error CannotAddStakeWhenUpdating();
    error CannotEvictUnsettledDeliverable(string id);
    error CannotRevokeWithNonZeroBalance(address user, address provider, uint256 balance);
    error DeliverableAlreadyExists(string id);
    error DeliverableAlreadySettled(string id);
    error DeliverableIdInvalidLength(uint256 length);
    error DeliverableNotExists(string id);
    error ETHTransferFailed();
    error InsufficientStake(uint256 provided, uint256 required);
    error InvalidVerifierInput(string reason);
    error LimitTooLarge(uint256 limit);
    error LockTimeOutOfRange(uint256 lockTime);
    error PenaltyPercentageTooHigh(uint256 percentage);
    error PreviousDeliverableNotAcknowledged(string id);
    error SecretShouldBeEmpty();
    error SecretShouldNotBeEmpty();
    error ServiceNotExist(address provider);
    error TooManyRefunds(address user, address provider);
    error OwnableUnauthorized(address caller);

    address public owner;
    address public ledgerAddress;
    uint256 public lockTime;
    uint256 public penaltyPercentage;

    mapping(bytes32 => Account) private accounts;
    bytes32[] private accountKeys;
    mapping(bytes32 => uint256) private accountSlot;
    mapping(address => bytes32[]) private keysOfUser;
    mapping(address => bytes32[]) private keysOfProvider;

    mapping(address => Service) private services;
    mapping(address => uint256) private stakes;
    address[] private providers;
    mapping(address => uint256) private providerSlot;

    constructor(address initialOwner, address ledger, uint256 initialLockTime, uint256 initialPenaltyPercentage) {
        if (initialLockTime < MIN_LOCKTIME || initialLockTime > MAX_LOCKTIME) revert LockTimeOutOfRange(initialLockTime);
        if (initialPenaltyPercentage > 100) revert PenaltyPercentageTooHigh(initialPenaltyPercentage);
        owner = initialOwner;
        ledgerAddress = ledger;
        lockTime = initialLockTime;
        penaltyPercentage = initialPenaltyPercentage;
        emit OwnershipTransferred(address(0), initialOwner);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OwnableUnauthorized(msg.sender);
        _;
    }

    modifier onlyLedger() {
        if (msg.sender != ledgerAddress) revert CallerNotLedger();
        _;
    }

    function initialize(uint256, address, address, uint256) external pure {
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
        emit BalanceUpdated(user, provider, msg.value, 0);
    }

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

    function processRefund(address user, address provider)
        external
        onlyLedger
        returns (uint256 totalAmount, uint256 balance, uint256 pendingRefund)
    {
        Account storage account = _account(user, provider);
        uint256 valid;
        for (uint256 i = 0; i < account.refunds.length; i++) {
            Refund storage refund = account.refunds[i];
            if (refund._deprecated_processed || refund.amount == 0) continue;
            if (block.timestamp < refund.createdAt + lockTime) {
                valid++;
                continue;
            }
            refund._deprecated_processed = true;
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

    function acknowledgeTEESigner(address provider, bool acknowledged) external {
        Account storage account = _account(msg.sender, provider);
        if (!acknowledged && account.balance > 0) revert CannotRevokeWithNonZeroBalance(msg.sender, provider, account.balance);
        account.acknowledged = acknowledged;
    }

    function getAccount(address user, address provider) external view returns (Account memory) {
        return _account(user, provider);
    }

    function getPendingRefund(address user, address provider) external view returns (uint256) {
        return _account(user, provider).pendingRefund;
    }

    function getAllAccounts(uint256 offset, uint256 limit) external view returns (AccountSummary[] memory, uint256) {
        return _page(accountKeys, offset, limit);
    }

    function getAccountsByUser(address user, uint256 offset, uint256 limit) external view returns (AccountSummary[] memory, uint256) {
        return _page(keysOfUser[user], offset, limit);
    }

    function getAccountsByProvider(address provider, uint256 offset, uint256 limit) external view returns (AccountSummary[] memory, uint256) {
        return _page(keysOfProvider[provider], offset, limit);
    }

    function getBatchAccountsByUsers(address[] calldata users) external view returns (AccountSummary[] memory result) {
        if (users.length > 500) revert LimitTooLarge(users.length);
        result = new AccountSummary[](users.length);
        for (uint256 i = 0; i < users.length; i++) {
            result[i] = _summary(accounts[_key(users[i], msg.sender)]);
        }
    }

    // ---- deliverables ----

    /// The provider records a delivered model by its root on 0G storage. A new task waits
    /// until the user has acknowledged or the provider settled the last one; the oldest
    /// settled deliverables make room once MAX_DELIVERABLES are kept.
    function addDeliverable(address user, string calldata id, bytes calldata modelRootHash) external {
        if (bytes(id).length == 0 || bytes(id).length > 64) revert DeliverableIdInvalidLength(bytes(id).length);
        Account storage account = _account(user, msg.sender);
        if (_find(account, id) != type(uint256).max) revert DeliverableAlreadyExists(id);
        uint256 count = account.deliverables.length;
        if (count > 0) {
            Deliverable storage previous = account.deliverables[count - 1];
            if (!previous.acknowledged && !previous.settled) revert PreviousDeliverableNotAcknowledged(previous.id);
        }
        if (count >= MAX_DELIVERABLES) {
            Deliverable storage oldest = account.deliverables[account.deliverablesHead % count];
            if (!oldest.settled) revert CannotEvictUnsettledDeliverable(oldest.id);
            account.deliverables[account.deliverablesHead % count] = Deliverable(id, modelRootHash, "", false, uint248(block.timestamp), false);
            account.deliverablesHead += 1;
        } else {
            account.deliverables.push(Deliverable(id, modelRootHash, "", false, uint248(block.timestamp), false));
        }
        account.deliverablesCount += 1;
        emit DeliverableAdded(user, msg.sender, id, modelRootHash, block.timestamp);
    }

    function acknowledgeDeliverable(address provider, string calldata id) external {
        Account storage account = _account(msg.sender, provider);
        Deliverable storage deliverable = _deliverable(account, id);
        if (deliverable.settled) revert CannotAcknowledgeSettledDeliverable(id);
        deliverable.acknowledged = true;
        emit DeliverableAcknowledged(msg.sender, provider, id, block.timestamp);
    }

    function getDeliverable(address user, address provider, string calldata id) external view returns (Deliverable memory) {
        return _deliverable(_account(user, provider), id);
    }

    function getDeliverables(address user, address provider) external view returns (Deliverable[] memory) {
        return _account(user, provider).deliverables;
    }

    /// The provider is paid for a task: the whole fee once acknowledged (with the model's key
    /// for the user), `penaltyPercentage` of it for a deliverable never acknowledged within
    /// `lockTime` (no key: the user did not get a model it accepted).
    function settleFees(VerifierInput calldata input) external {
        Account storage account = _account(input.user, msg.sender);
        Service storage service = services[msg.sender];
        if (providerSlot[msg.sender] == 0) revert ServiceNotExist(msg.sender);
        if (!service.teeSignerAcknowledged) revert InvalidVerifierInput("signer not acknowledged");
        if (!account.acknowledged) revert InvalidVerifierInput("user has not acknowledged the provider");
        Deliverable storage deliverable = _deliverable(account, input.id);
        if (deliverable.settled) revert DeliverableAlreadySettled(input.id);
        if (keccak256(deliverable.modelRootHash) != keccak256(input.modelRootHash)) revert InvalidVerifierInput("model root hash mismatch");
        if (input.nonce <= account.nonce) revert InvalidVerifierInput("nonce not above the last settled");
        if (_signer(input) != service.teeSignerAddress) revert InvalidVerifierInput("signature not by the acknowledged signer");
        uint256 fee = input.taskFee;
        if (deliverable.acknowledged) {
            if (input.encryptedSecret.length == 0) revert SecretShouldNotBeEmpty();
            deliverable.encryptedSecret = input.encryptedSecret;
        } else {
            if (input.encryptedSecret.length != 0) revert SecretShouldBeEmpty();
            if (block.timestamp < uint256(deliverable.timestamp) + lockTime) revert InvalidVerifierInput("the user may still acknowledge");
            fee = (fee * penaltyPercentage) / 100;
        }
        if (fee > account.balance) revert InvalidVerifierInput("fee exceeds the balance");
        account.nonce = input.nonce;
        deliverable.settled = true;
        uint256 unlocked = account.balance - account.pendingRefund;
        if (fee > unlocked) _takeFromRefunds(account, fee - unlocked);
        account.balance -= fee;
        if (fee > 0) {
            ILedgerSpendFunds(ledgerAddress).spendFund(input.user, fee);
            _send(msg.sender, fee);
        }
        emit BalanceUpdated(input.user, msg.sender, account.balance, account.pendingRefund);
        emit FeesSettled(input.user, msg.sender, input.id, fee, deliverable.acknowledged, input.nonce);
    }

    // ---- services ----

    function addOrUpdateService(
        string calldata url,
        Quota calldata quota,
        uint256 pricePerToken,
        bool occupied,
        string[] calldata models,
        address teeSignerAddress
    ) external payable {
        Service storage service = services[msg.sender];
        if (providerSlot[msg.sender] == 0) {
            if (msg.value < MIN_PROVIDER_STAKE) revert InsufficientStake(msg.value, MIN_PROVIDER_STAKE);
            providers.push(msg.sender);
            providerSlot[msg.sender] = providers.length;
            stakes[msg.sender] = msg.value;
            service.provider = msg.sender;
            emit ProviderStaked(msg.sender, msg.value);
        } else if (msg.value > 0) {
            revert CannotAddStakeWhenUpdating();
        }
        if (service.teeSignerAddress != teeSignerAddress) service.teeSignerAcknowledged = false;
        service.url = url;
        service.quota = quota;
        service.pricePerToken = pricePerToken;
        service.occupied = occupied;
        delete service.models;
        for (uint256 i = 0; i < models.length; i++) {
            service.models.push(models[i]);
        }
        service.teeSignerAddress = teeSignerAddress;
        emit ServiceUpdated(msg.sender, url, quota, pricePerToken, teeSignerAddress, occupied);
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

    function getService(address provider) external view returns (Service memory) {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        return services[provider];
    }

    function getAllServices() external view returns (Service[] memory result) {
        result = new Service[](providers.length);
        for (uint256 i = 0; i < providers.length; i++) {
            result[i] = services[providers[i]];
        }
    }

    function acknowledgeTEESignerByOwner(address provider) external onlyOwner {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        services[provider].teeSignerAcknowledged = true;
        emit ProviderTEESignerAcknowledged(provider, services[provider].teeSignerAddress, true);
    }

    function revokeTEESignerAcknowledgement(address provider) external onlyOwner {
        if (providerSlot[provider] == 0) revert ServiceNotExist(provider);
        services[provider].teeSignerAcknowledged = false;
        emit ProviderTEESignerAcknowledged(provider, services[provider].teeSignerAddress, false);
    }

    // ---- owner ----

    function updateLockTime(uint256 newLockTime) external onlyOwner {
        if (newLockTime < MIN_LOCKTIME || newLockTime > MAX_LOCKTIME) revert LockTimeOutOfRange(newLockTime);
        emit LockTimeUpdated(lockTime, newLockTime);
        lockTime = newLockTime;
    }

    function updatePenaltyPercentage(uint256 newPercentage) external onlyOwner {
        if (newPercentage > 100) revert PenaltyPercentageTooHigh(newPercentage);
        penaltyPercentage = newPercentage;
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

    function _signer(VerifierInput calldata input) private view returns (address) {
        if (input.signature.length != 65) return address(0);
        bytes32 digest = keccak256(
            abi.encodePacked(input.id, input.encryptedSecret, input.modelRootHash, input.nonce, msg.sender, input.user, input.taskFee)
        );
        bytes32 signed = keccak256(abi.encodePacked("\x19Ethereum Signed Message:\n32", digest));
        bytes32 r = bytes32(input.signature[0:32]);
        bytes32 s = bytes32(input.signature[32:64]);
        uint8 v = uint8(input.signature[64]);
        if (v < 27) v += 27;
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0) return address(0);
        return ecrecover(signed, v, r, s);
    }

    function _find(Account storage account, string calldata id) private view returns (uint256) {
        bytes32 wanted = keccak256(bytes(id));
        for (uint256 i = 0; i < account.deliverables.length; i++) {
            if (keccak256(bytes(account.deliverables[i].id)) == wanted) return i;
        }
        return type(uint256).max;
    }

    function _deliverable(Account storage account, string calldata id) private view returns (Deliverable storage) {
        uint256 at = _find(account, id);
        if (at == type(uint256).max) revert DeliverableNotExists(id);
        return account.deliverables[at];
    }

    function _takeFromRefunds(Account storage account, uint256 amount) private {
        if (amount > account.pendingRefund) amount = account.pendingRefund;
        account.pendingRefund -= amount;
        for (uint256 i = account.refunds.length; i > 0 && amount > 0; i--) {
            Refund storage refund = account.refunds[i - 1];
            if (refund._deprecated_processed || refund.amount == 0) continue;
            uint256 taken = refund.amount < amount ? refund.amount : amount;
            refund.amount -= taken;
            amount -= taken;
            if (refund.amount == 0) {
                refund._deprecated_processed = true;
                account.validRefundsLength -= 1;
            }
        }
    }

    function _summary(Account storage account) private view returns (AccountSummary memory) {
        return AccountSummary(
            account.user,
            account.provider,
            account.nonce,
            account.balance,
            account.pendingRefund,
            account.additionalInfo,
            account.validRefundsLength,
            account.deliverablesCount,
            account.acknowledged
        );
    }

    function _page(bytes32[] storage keys, uint256 offset, uint256 limit) private view returns (AccountSummary[] memory result, uint256 total) {
        if (limit > MAX_PAGE) revert LimitTooLarge(limit);
        total = keys.length;
        uint256 end = limit == 0 || offset + limit > total ? total : offset + limit;
        if (offset >= end) return (new AccountSummary[](0), total);
        result = new AccountSummary[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            result[i - offset] = _summary(accounts[keys[i]]);
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

    function _account(address user, address provider) private view returns (Account storage) {
        bytes32 key = _key(user, provider);
        if (accountSlot[key] == 0) revert AccountNotExists(user, provider);
        return accounts[key];
    }

    function _key(address user, address provider) private pure returns (bytes32) {
        return keccak256(abi.encode(user, provider));
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert ETHTransferFailed();
    }
}
