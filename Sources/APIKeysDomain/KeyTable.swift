/// The verification index's keys, packed for memory (issue 14, goal 6): at a million keys a
/// `[CompactID: KeyEntry]` with two `String`s per entry cost ~290 bytes a key (a dictionary
/// rounds up to a power of two and stores whole entries in its buckets). Here the entries sit
/// in dense arrays and the hash table holds 8-byte slots (a position and 32 bits of the ID's
/// hash); tenant and owner are numbers into a table of their strings, shared by all their keys.
///
/// Open addressing with linear probing and backward-shift deletion (no tombstones), kept at
/// most half full. Not thread-safe: the index holds it under its lock.
struct KeyTable {
    struct Entry {
        var hash: SecretHash
        var expiresAt: Int64
        var tenant: UInt32
        var owner: UInt32
        var revoked: Bool
        var expiryRecorded: Bool
    }

    private(set) var ids: [CompactID] = []
    private var entries: [Entry] = []
    /// Low 32 bits: position + 1 in `ids`/`entries` (0 is an empty slot); high 32 bits: a tag,
    /// hash bits the slot's place does not use. A probe compares IDs only where the tag
    /// matches: at ten million keys every ID compared is a cache miss, and loading the index
    /// spent 14% of its time in them (issue 14, goal 6).
    private var slots: [UInt64]
    private var mask: Int
    /// Interned tenant and owner IDs; their numbers are positions here.
    private var strings: [String] = []
    private var stringNumbers: [ExactString: UInt32] = [:]
    /// Mixed into every slot choice, so that no one can pick IDs that collide here.
    private let seed = UInt64.random(in: .min ... .max)

    /// Room for `capacity` entries; the hash table grows with them (or is built once by
    /// ``indexLoaded()``).
    init(capacity: Int = 0) {
        let size = Self.slotCount(for: 0)
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        ids.reserveCapacity(capacity)
        entries.reserveCapacity(capacity)
    }

    var count: Int { ids.count }

    /// The position of `id`'s entry, for ``subscript(position:)``.
    func position(of id: CompactID) -> Int? {
        find(id)?.position
    }

    subscript(position position: Int) -> Entry {
        get { entries[position] }
        set { entries[position] = newValue }
    }

    func string(_ number: UInt32) -> String { strings[Int(number)] }

    /// Adds `id` or replaces its entry.
    mutating func set(_ id: CompactID, hash: SecretHash, expiresAt: Int64, tenantID: String, ownerID: String,
                      revoked: Bool, expiryRecorded: Bool) {
        let entry = Entry(hash: hash, expiresAt: expiresAt, tenant: intern(tenantID), owner: intern(ownerID),
                          revoked: revoked, expiryRecorded: expiryRecorded)
        if let position = position(of: id) {
            entries[position] = entry
            return
        }
        if (ids.count + 1) * 2 > slots.count { grow() }
        ids.append(id)
        entries.append(entry)
        place(ids.count - 1)
    }

    /// Loading a snapshot: appends `id` without placing it in the hash table, which
    /// ``indexLoaded()`` then builds in one pass. Placing a key is a cache miss at ten million
    /// keys; one after another in a tight loop the processor overlaps them, while between
    /// rows read from the store it waits for each (15% of start-up).
    mutating func appendUnindexed(_ id: CompactID, hash: SecretHash, expiresAt: Int64, tenantID: String, ownerID: String,
                                  revoked: Bool, expiryRecorded: Bool) {
        ids.append(id)
        entries.append(Entry(hash: hash, expiresAt: expiresAt, tenant: intern(tenantID), owner: intern(ownerID),
                             revoked: revoked, expiryRecorded: expiryRecorded))
    }

    /// Builds the hash table over every entry. An ID appended twice keeps its later entry, as
    /// ``set(_:hash:expiresAt:tenantID:ownerID:revoked:expiryRecorded:)`` would.
    mutating func indexLoaded() {
        let size = Self.slotCount(for: ids.count)
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        var repeated: [Int] = []
        for position in ids.indices {
            if let earlier = find(ids[position]) {
                entries[earlier.position] = entries[position]
                repeated.append(position)
            } else {
                place(position)
            }
        }
        guard !repeated.isEmpty else { return }
        for position in repeated.reversed() {
            ids.remove(at: position)
            entries.remove(at: position)
        }
        indexLoaded()
    }

    /// Removes `id`; the last entry moves into its place.
    mutating func remove(_ id: CompactID) {
        guard let found = find(id) else { return }
        removeSlot(found.slot)
        let position = found.position, last = ids.count - 1
        if position != last {
            let moved = ids[last]
            ids[position] = moved
            entries[position] = entries[last]
            let slot = find(moved)!.slot
            slots[slot] = slots[slot] & ~Self.positionBits | UInt64(position + 1)
        }
        ids.removeLast()
        entries.removeLast()
    }

    // MARK: Internals

    private static func slotCount(for capacity: Int) -> Int {
        var size = 16
        while size < capacity * 2 { size *= 2 }
        return size
    }

    private static let positionBits: UInt64 = 0xFFFF_FFFF

    /// The slot where `id`'s probe starts, and its tag (high 32 bits, low bits zero).
    private func home(_ id: CompactID) -> (slot: Int, tag: UInt64) {
        // IDs are random already; the multiply spreads the seed's bits (and any pattern).
        let product = (id.high ^ seed) &* 0x9E37_79B9_7F4A_7C15 ^ id.low
        let mixed = product ^ (product >> 29)
        return (Int(truncatingIfNeeded: mixed & UInt64(mask)), mixed & ~Self.positionBits)
    }

    /// Where `id` is: its slot in the hash table and its position in the arrays.
    private func find(_ id: CompactID) -> (slot: Int, position: Int)? {
        var (slot, tag) = home(id)
        while slots[slot] != 0 {
            if slots[slot] & ~Self.positionBits == tag {
                let position = Int(slots[slot] & Self.positionBits) - 1
                if ids[position] == id { return (slot, position) }
            }
            slot = (slot + 1) & mask
        }
        return nil
    }

    private mutating func place(_ position: Int) {
        var (slot, tag) = home(ids[position])
        while slots[slot] != 0 { slot = (slot + 1) & mask }
        slots[slot] = tag | UInt64(position + 1)
    }

    /// Empties `slot` and shifts back the run after it, so every probe still ends at an
    /// empty slot only past its entry.
    private mutating func removeSlot(_ slot: Int) {
        var hole = slot
        slots[hole] = 0
        var next = (hole + 1) & mask
        while slots[next] != 0 {
            let want = home(ids[Int(slots[next] & Self.positionBits) - 1]).slot
            // Move it back when its home is not cyclically within (hole, next].
            let distanceToHole = (hole - want) & mask
            let distanceToNext = (next - want) & mask
            if distanceToHole < distanceToNext {
                slots[hole] = slots[next]
                slots[next] = 0
                hole = next
            }
            next = (next + 1) & mask
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = Array(repeating: 0, count: size)
        mask = size - 1
        for position in ids.indices { place(position) }
    }

    private mutating func intern(_ string: String) -> UInt32 {
        let key = ExactString(string)
        if let number = stringNumbers[key] { return number }
        let number = UInt32(strings.count)
        strings.append(string)
        stringNumbers[key] = number
        return number
    }
}
