// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

/// What the ledger needs of a serving contract (InferenceServing, FineTuningServing): the
/// user's sub-account with a provider lives there, funded from the ledger.
interface IServing {
    function accountExists(address user, address provider) external view returns (bool);
    function getPendingRefund(address user, address provider) external view returns (uint256);
    function addAccount(address user, address provider, string calldata additionalInfo) external payable;
    function depositFund(address user, address provider, uint256 cancelRetrievingAmount) external payable;
    function requestRefundAll(address user, address provider) external;
    function processRefund(address user, address provider) external returns (uint256 totalAmount, uint256 balance, uint256 pendingRefund);
    function deleteAccount(address user, address provider) external;
}

/// The compute marketplace's user funds, placed in the dev genesis at the address 0G's user SDK
/// (the npm package 0g-serving-broker 0.7 of 0glabs) picks for chain id 31337, with its ABI.
///
/// A user's ledger holds `totalBalance`: `availableBalance` still in the ledger plus what was
/// moved into sub-accounts with providers (`transferFund`). A sub-account's money leaves it only
/// by settlement (the serving contract pays the provider and calls `spendFund`, lowering the
/// total) or by a refund that waits out the serving contract's lock time (`retrieveFund`).
/// The ledger is also the registry of serving contracts (`registerService`), by full name
/// `<serviceType>-<version>` ("inference-v1.0").
contract LedgerManager {
    /// Opening a ledger takes at least 3 0G (the SDK checks the same minimum).
    uint256 public constant MIN_ACCOUNT_BALANCE = 3 ether;
    /// A new provider sub-account starts with at least this (the SDK transfers exactly 1 0G).
    uint256 public constant MIN_TRANSFER_AMOUNT = 1 ether;
    uint256 public constant MAX_ADDITIONAL_INFO_LENGTH = 4096;
    uint256 public constant MAX_PROVIDERS_PER_BATCH = 20;
    uint256 public constant MAX_PROVIDERS_PER_USER_PER_SERVICE = 50;
    uint256 public constant MAX_SERVICES = 20;

    struct Ledger {
        address user;
        uint256 availableBalance;
        uint256 totalBalance;
        string additionalInfo;
    }

    struct ServiceInfo {
        address serviceAddress;
        address serviceContract;
        string serviceType;
        string version;
        string fullName;
        string description;
        bool isRecommended;
        uint256 registeredAt;
    }

    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);
    event Initialized(uint8 version);
    event FundSpent(address indexed user, address indexed service, uint256 amount);
    event LedgerInfoUpdated(address indexed user, string additionalInfo);
    event RecommendedServiceUpdated(string serviceType, string version, address serviceAddress);
    event ServiceRegistered(address indexed serviceAddress, string serviceName);

    error AdditionalInfoTooLong(uint256 length, uint256 max);
    error AlreadyInitialized();
    error CallerNotRegisteredService(address caller);
    error DirectDepositsDisabled();
    error InsufficientAvailableBalance(uint256 available, uint256 required);
    error InvalidServiceAddress(address serviceAddress);
    error InvalidServiceType(string serviceType);
    error LedgerExists(address user);
    error LedgerNotExists(address user);
    error MinimumDepositRequired(uint256 provided, uint256 required);
    error MustWithdrawAllFundsFirst(uint256 remainingBalance);
    error NoRecommendedService(string serviceType);
    error ServiceAlreadyRegistered(address serviceAddress);
    error ServiceNameExists(string serviceName);
    error ServiceNotFound(address serviceAddress);
    error ServiceRegistryLimitReached(uint256 limit);
    error ServiceTypeRequired();
    error TooManyProviders(uint256 requested, uint256 maximum);
    error TooManyProvidersForService(uint256 current, uint256 maximum);
    error TransferFailed();
    error VersionRequired();
    error ZeroAmountNotAllowed();
    error OwnableUnauthorized(address caller);

    address public owner;
    mapping(address => Ledger) private ledgers;
    address[] private users;
    /// 1 + the user's index in `users`; 0 when the user has no ledger.
    mapping(address => uint256) private userSlot;
    /// user => keccak(service full name) => providers with a sub-account there.
    mapping(address => mapping(bytes32 => address[])) private providersOf;
    mapping(address => mapping(bytes32 => mapping(address => bool))) private hasProvider;

    ServiceInfo[] private services;
    /// 1 + the service's index in `services`.
    mapping(address => uint256) private serviceSlot;
    mapping(bytes32 => address) private serviceByName;

    /// Genesis places the state this constructor writes: the owner and the two serving
    /// contracts, registered as the recommended "inference" and "fine-tuning" services.
    constructor(address initialOwner, address inference, address fineTuning) {
        owner = initialOwner;
        emit OwnershipTransferred(address(0), initialOwner);
        _register("inference", "v1.0", inference, "Inference serving", true);
        _register("fine-tuning", "v1.0", fineTuning, "Fine-tuning serving", true);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert OwnableUnauthorized(msg.sender);
        _;
    }

    /// Only refunds from registered serving contracts; users deposit through `depositFund`.
    receive() external payable {
        if (serviceSlot[msg.sender] == 0) revert DirectDepositsDisabled();
    }

    // ---- ledgers ----

    function initialize(address) external pure {
        revert AlreadyInitialized();
    }

    function initialized() external pure returns (bool) {
        return true;
    }

    function addLedger(string calldata additionalInfo) external payable returns (uint256, uint256) {
        if (userSlot[msg.sender] != 0) revert LedgerExists(msg.sender);
        if (msg.value < MIN_ACCOUNT_BALANCE) revert MinimumDepositRequired(msg.value, MIN_ACCOUNT_BALANCE);
        _checkInfo(additionalInfo);
        _open(msg.sender, additionalInfo);
        Ledger storage ledger = ledgers[msg.sender];
        ledger.availableBalance = msg.value;
        ledger.totalBalance = msg.value;
        return (msg.value, msg.value);
    }

    function depositFund() external payable {
        _deposit(msg.sender);
    }

    function depositFundFor(address recipient) external payable {
        _deposit(recipient);
    }

    function refund(uint256 amount) external {
        Ledger storage ledger = _ledger(msg.sender);
        if (amount == 0) revert ZeroAmountNotAllowed();
        if (ledger.availableBalance < amount) revert InsufficientAvailableBalance(ledger.availableBalance, amount);
        ledger.availableBalance -= amount;
        ledger.totalBalance -= amount;
        _send(msg.sender, amount);
    }

    function updateAdditionalInfo(string calldata additionalInfo) external {
        _checkInfo(additionalInfo);
        _ledger(msg.sender).additionalInfo = additionalInfo;
        emit LedgerInfoUpdated(msg.sender, additionalInfo);
    }

    /// Moves `amount` of the available balance into the sub-account with `provider` at the
    /// service named `serviceName`; a refund still waiting there is cancelled first, so only
    /// the rest leaves the available balance.
    function transferFund(address provider, string calldata serviceName, uint256 amount) external {
        if (amount == 0) revert ZeroAmountNotAllowed();
        Ledger storage ledger = _ledger(msg.sender);
        address service = _serviceNamed(serviceName);
        bytes32 key = keccak256(bytes(serviceName));
        if (!IServing(service).accountExists(msg.sender, provider)) {
            if (amount < MIN_TRANSFER_AMOUNT) revert MinimumDepositRequired(amount, MIN_TRANSFER_AMOUNT);
            if (ledger.availableBalance < amount) revert InsufficientAvailableBalance(ledger.availableBalance, amount);
            if (!hasProvider[msg.sender][key][provider]) {
                uint256 count = providersOf[msg.sender][key].length;
                if (count >= MAX_PROVIDERS_PER_USER_PER_SERVICE) {
                    revert TooManyProvidersForService(count, MAX_PROVIDERS_PER_USER_PER_SERVICE);
                }
                providersOf[msg.sender][key].push(provider);
                hasProvider[msg.sender][key][provider] = true;
            }
            ledger.availableBalance -= amount;
            IServing(service).addAccount{value: amount}(msg.sender, provider, ledger.additionalInfo);
        } else {
            uint256 pending = IServing(service).getPendingRefund(msg.sender, provider);
            uint256 cancelled = pending < amount ? pending : amount;
            uint256 fresh = amount - cancelled;
            if (ledger.availableBalance < fresh) revert InsufficientAvailableBalance(ledger.availableBalance, fresh);
            ledger.availableBalance -= fresh;
            IServing(service).depositFund{value: fresh}(msg.sender, provider, cancelled);
        }
    }

    /// Asks each provider's sub-account for a refund of everything not already waiting, and
    /// brings back into the available balance every refund whose lock time has passed.
    function retrieveFund(address[] calldata providers, string calldata serviceName) external {
        if (providers.length > MAX_PROVIDERS_PER_BATCH) revert TooManyProviders(providers.length, MAX_PROVIDERS_PER_BATCH);
        Ledger storage ledger = _ledger(msg.sender);
        address service = _serviceNamed(serviceName);
        uint256 returned;
        for (uint256 i = 0; i < providers.length; i++) {
            IServing(service).requestRefundAll(msg.sender, providers[i]);
            (uint256 amount,,) = IServing(service).processRefund(msg.sender, providers[i]);
            returned += amount;
        }
        ledger.availableBalance += returned;
    }

    /// A serving contract paid a provider `amount` out of `user`'s sub-account.
    function spendFund(address user, uint256 amount) external {
        if (serviceSlot[msg.sender] == 0) revert CallerNotRegisteredService(msg.sender);
        Ledger storage ledger = _ledger(user);
        ledger.totalBalance -= amount;
        emit FundSpent(user, msg.sender, amount);
    }

    /// Closes an empty ledger (every sub-account refunded or spent).
    function deleteLedger() external {
        Ledger storage ledger = _ledger(msg.sender);
        if (ledger.totalBalance != 0) revert MustWithdrawAllFundsFirst(ledger.totalBalance);
        uint256 index = userSlot[msg.sender] - 1;
        address last = users[users.length - 1];
        users[index] = last;
        userSlot[last] = index + 1;
        users.pop();
        delete userSlot[msg.sender];
        delete ledgers[msg.sender];
    }

    function getLedger(address user) external view returns (Ledger memory) {
        if (userSlot[user] == 0) revert LedgerNotExists(user);
        return ledgers[user];
    }

    function getAllLedgers(uint256 offset, uint256 limit) external view returns (Ledger[] memory result, uint256 total) {
        total = users.length;
        uint256 end = limit == 0 || offset + limit > total ? total : offset + limit;
        if (offset >= end) return (new Ledger[](0), total);
        result = new Ledger[](end - offset);
        for (uint256 i = offset; i < end; i++) {
            result[i - offset] = ledgers[users[i]];
        }
    }

    function getLedgerProviders(address user, string calldata serviceName) external view returns (address[] memory) {
        return providersOf[user][keccak256(bytes(serviceName))];
    }

    // ---- the service registry ----

    function registerService(string calldata serviceType, string calldata version, address serviceAddress, string calldata description)
        external
        onlyOwner
    {
        _register(serviceType, version, serviceAddress, description, false);
    }

    function setRecommendedService(string calldata serviceType, string calldata version) external onlyOwner {
        bytes32 wanted = keccak256(bytes(string.concat(serviceType, "-", version)));
        address chosen = serviceByName[wanted];
        if (chosen == address(0)) revert InvalidServiceType(serviceType);
        bytes32 typeKey = keccak256(bytes(serviceType));
        for (uint256 i = 0; i < services.length; i++) {
            if (keccak256(bytes(services[i].serviceType)) == typeKey) {
                services[i].isRecommended = services[i].serviceAddress == chosen;
            }
        }
        emit RecommendedServiceUpdated(serviceType, version, chosen);
    }

    function getServiceInfo(address serviceAddress) external view returns (ServiceInfo memory) {
        uint256 slot = serviceSlot[serviceAddress];
        if (slot == 0) revert ServiceNotFound(serviceAddress);
        return services[slot - 1];
    }

    function getAllActiveServices() external view returns (ServiceInfo[] memory) {
        return services;
    }

    function getServiceAddressByName(string calldata serviceName) external view returns (address) {
        return serviceByName[keccak256(bytes(serviceName))];
    }

    function getRecommendedService(string calldata serviceType) external view returns (string memory version, address serviceAddress) {
        bytes32 typeKey = keccak256(bytes(serviceType));
        for (uint256 i = 0; i < services.length; i++) {
            if (services[i].isRecommended && keccak256(bytes(services[i].serviceType)) == typeKey) {
                return (services[i].version, services[i].serviceAddress);
            }
        }
        revert NoRecommendedService(serviceType);
    }

    function getAllVersions(string calldata serviceType)
        external
        view
        returns (string[] memory versions, address[] memory addresses, bool[] memory isRecommendedFlags)
    {
        bytes32 typeKey = keccak256(bytes(serviceType));
        uint256 count;
        for (uint256 i = 0; i < services.length; i++) {
            if (keccak256(bytes(services[i].serviceType)) == typeKey) count++;
        }
        versions = new string[](count);
        addresses = new address[](count);
        isRecommendedFlags = new bool[](count);
        uint256 at;
        for (uint256 i = 0; i < services.length; i++) {
            if (keccak256(bytes(services[i].serviceType)) == typeKey) {
                (versions[at], addresses[at], isRecommendedFlags[at]) =
                    (services[i].version, services[i].serviceAddress, services[i].isRecommended);
                at++;
            }
        }
    }

    function isRecommendedVersion(string calldata serviceType, string calldata version) external view returns (bool) {
        address found = serviceByName[keccak256(bytes(string.concat(serviceType, "-", version)))];
        return found != address(0) && services[serviceSlot[found] - 1].isRecommended;
    }

    // ---- ownership ----

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    function renounceOwnership() external onlyOwner {
        emit OwnershipTransferred(owner, address(0));
        owner = address(0);
    }

    // ---- internals ----

    function _register(string memory serviceType, string memory version, address serviceAddress, string memory description, bool recommended)
        private
    {
        if (bytes(serviceType).length == 0) revert ServiceTypeRequired();
        if (bytes(version).length == 0) revert VersionRequired();
        if (serviceAddress == address(0)) revert InvalidServiceAddress(serviceAddress);
        if (serviceSlot[serviceAddress] != 0) revert ServiceAlreadyRegistered(serviceAddress);
        if (services.length >= MAX_SERVICES) revert ServiceRegistryLimitReached(MAX_SERVICES);
        string memory fullName = string.concat(serviceType, "-", version);
        bytes32 nameKey = keccak256(bytes(fullName));
        if (serviceByName[nameKey] != address(0)) revert ServiceNameExists(fullName);
        services.push(ServiceInfo(serviceAddress, serviceAddress, serviceType, version, fullName, description, recommended, block.timestamp));
        serviceSlot[serviceAddress] = services.length;
        serviceByName[nameKey] = serviceAddress;
        emit ServiceRegistered(serviceAddress, fullName);
    }

    function _serviceNamed(string calldata serviceName) private view returns (address service) {
        service = serviceByName[keccak256(bytes(serviceName))];
        if (service == address(0)) revert InvalidServiceType(serviceName);
    }

    function _ledger(address user) private view returns (Ledger storage) {
        if (userSlot[user] == 0) revert LedgerNotExists(user);
        return ledgers[user];
    }

    function _open(address user, string memory additionalInfo) private {
        users.push(user);
        userSlot[user] = users.length;
        ledgers[user].user = user;
        ledgers[user].additionalInfo = additionalInfo;
    }

    /// Deposits open the ledger when there is none (as `addLedger` with no extra information).
    function _deposit(address user) private {
        if (msg.value == 0) revert ZeroAmountNotAllowed();
        if (userSlot[user] == 0) {
            if (msg.value < MIN_ACCOUNT_BALANCE) revert MinimumDepositRequired(msg.value, MIN_ACCOUNT_BALANCE);
            _open(user, "");
        }
        Ledger storage ledger = ledgers[user];
        ledger.availableBalance += msg.value;
        ledger.totalBalance += msg.value;
    }

    function _checkInfo(string calldata additionalInfo) private pure {
        if (bytes(additionalInfo).length > MAX_ADDITIONAL_INFO_LENGTH) {
            revert AdditionalInfoTooLong(bytes(additionalInfo).length, MAX_ADDITIONAL_INFO_LENGTH);
        }
    }

    function _send(address to, uint256 amount) private {
        (bool ok,) = to.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }
}
