//! The job table's slots: where job records live, and which slot the next job
//! takes.
//!
//! Slots come in chunks of [`CHUNK`] (1,024). A new job takes the lowest vacant slot,
//! so jobs stay packed in the low chunks whatever order they leave in, and
//! chunks emptied by a drain hold nothing worth keeping: an empty chunk's
//! memory goes back to the allocator, except chunk 0 and one spare (so a
//! table hovering around a chunk boundary does not allocate and free a chunk
//! per job). A released chunk's slots, and the slots past the end of a
//! growing chunk, are *virtual*: vacant, with the table-wide generation
//! floor, raised above every generation a released slot had, so that stale
//! handles into a released chunk never match a later job.
//!
//! Finding the lowest vacant slot costs a scan of two small bitmaps: one bit
//! per chunk (it has room), one bit per slot of the chosen chunk (vacant).

use super::Slot;
use crate::job::Job;

/// Slots per chunk, as a power of two.
pub(super) const CHUNK_BITS: u32 = 10;
/// Slots per chunk.
pub(super) const CHUNK: usize = 1 << CHUNK_BITS;
/// Words of a chunk's vacant-slot bitmap.
const WORDS: usize = CHUNK / 64;

/// One chunk of slots.
#[derive(Default)]
struct Chunk {
    /// Its materialized slots: the first `slots.len()`; the rest are virtual.
    slots: Vec<Slot>,
    /// The vacant slots among `slots` (bit `i % 64` of word `i / 64`).
    vacant: [u64; WORDS],
    /// Jobs held.
    live: usize,
}

impl Chunk {
    /// The lowest vacant slot: a materialized one, else the first virtual one.
    fn lowest_vacant(&self) -> usize {
        if self.live == self.slots.len() {
            return self.live; // none vacated: the first virtual one
        }
        self.vacant
            .iter()
            .position(|&w| w != 0)
            .map_or(self.slots.len(), |w| {
                w * 64 + self.vacant[w].trailing_zeros() as usize
            })
    }

    fn set_vacant(&mut self, i: usize, vacant: bool) {
        set_bit(&mut self.vacant, i, vacant);
    }

    /// True when its memory is allocated.
    fn is_allocated(&self) -> bool {
        self.slots.capacity() > 0
    }
}

/// Every slot of the job table.
#[derive(Default)]
pub(super) struct Slots {
    chunks: Vec<Chunk>,
    /// The chunks with a vacant slot (bit `c % 64` of word `c / 64`).
    room: Vec<u64>,
    /// No chunk below this one has a vacant slot.
    room_hint: usize,
    /// The generation of every virtual slot.
    gen_floor: u32,
    /// The allocated empty chunk kept (never chunk 0): the lowest empty one,
    /// so that it is the next to fill.
    spare: Option<usize>,
    /// Jobs held.
    len: usize,
}

/// Sets or clears bit `i` of a bitmap (bit `i % 64` of word `i / 64`).
fn set_bit(words: &mut [u64], i: usize, on: bool) {
    let bit = 1u64 << (i % 64);
    if on {
        words[i / 64] |= bit;
    } else {
        words[i / 64] &= !bit;
    }
}

/// The chunk and the index in it of slot number `slot`.
fn split(slot: u32) -> (usize, usize) {
    ((slot >> CHUNK_BITS) as usize, slot as usize & (CHUNK - 1))
}

impl Slots {
    /// Number of jobs.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// The slot numbers below this may be materialized; the rest are virtual.
    pub(super) fn end(&self) -> u32 {
        (self.chunks.len() * CHUNK) as u32
    }

    /// Slot `slot`, unless virtual.
    pub(super) fn get(&self, slot: u32) -> Option<&Slot> {
        let (c, i) = split(slot);
        self.chunks.get(c)?.slots.get(i)
    }

    /// Slot `slot`, to change it, unless virtual.
    pub(super) fn get_mut(&mut self, slot: u32) -> Option<&mut Slot> {
        let (c, i) = split(slot);
        self.chunks.get_mut(c)?.slots.get_mut(i)
    }

    /// The generation of slot `slot` (the floor for a virtual one).
    pub(super) fn gen(&self, slot: u32) -> u32 {
        self.get(slot).map_or(self.gen_floor, Slot::gen)
    }

    /// The slot the next [`Slots::fill`] should take: the lowest vacant one.
    pub(super) fn lowest_vacant(&self) -> u32 {
        let c = self.chunk_with_room();
        let i = self.chunks.get(c).map_or(0, Chunk::lowest_vacant);
        (c * CHUNK + i) as u32
    }

    /// The lowest chunk with a vacant slot (a new one past the end if none).
    fn chunk_with_room(&self) -> usize {
        let first = self.room_hint / 64;
        for (w, &word) in self.room.iter().enumerate().skip(first) {
            let word = if w == first {
                word & (!0u64 << (self.room_hint % 64))
            } else {
                word
            };
            if word != 0 {
                return w * 64 + word.trailing_zeros() as usize;
            }
        }
        self.chunks.len()
    }

    fn set_room(&mut self, c: usize, room: bool) {
        set_bit(&mut self.room, c, room);
    }

    /// Puts `job` in vacant slot `slot` (the one [`Slots::lowest_vacant`]
    /// named), giving it the slot's generation, which is returned.
    pub(super) fn fill(&mut self, slot: u32, mut job: Job) -> u32 {
        let (c, i) = split(slot);
        if c == self.chunks.len() {
            self.chunks.push(Chunk::default());
            if self.room.len() * 64 < self.chunks.len() {
                self.room.push(0);
            }
            self.set_room(c, true);
        }
        if self.spare == Some(c) {
            self.spare = None;
        }
        if c > 0 && !self.chunks[c].is_allocated() {
            // Chunks past the first are allocated whole, so filling them
            // copies nothing: the spare's memory if there is one (a spare
            // lies above, or it would be the lowest chunk with room).
            self.chunks[c].slots = match self.spare.take() {
                Some(spare) => self.take_memory(spare),
                None => Vec::with_capacity(CHUNK),
            };
            self.drop_released_tail();
        }
        let gen_floor = self.gen_floor;
        let chunk = &mut self.chunks[c];
        if i == chunk.slots.len() {
            chunk.slots.push(Slot::Vacant { gen: gen_floor });
        } else {
            chunk.set_vacant(i, false);
        }
        chunk.live += 1;
        let full = chunk.live == CHUNK;
        let gen = chunk.slots[i].gen();
        job.set_slot_gen(gen);
        chunk.slots[i] = Slot::Full(job);
        if full {
            self.set_room(c, false);
        }
        self.room_hint = c;
        self.len += 1;
        gen
    }

    /// Empties slot `slot`, which holds a job, and returns the job; the slot's
    /// generation moves on, and an emptied chunk may be released.
    pub(super) fn vacate(&mut self, slot: u32) -> Job {
        let (c, i) = split(slot);
        let chunk = &mut self.chunks[c];
        let gen = chunk.slots[i].gen().wrapping_add(1);
        let Slot::Full(job) = std::mem::replace(&mut chunk.slots[i], Slot::Vacant { gen }) else {
            unreachable!("a vacated slot holds a job")
        };
        chunk.set_vacant(i, true);
        chunk.live -= 1;
        let emptied = chunk.live == 0 && c > 0;
        self.set_room(c, true);
        self.room_hint = self.room_hint.min(c);
        self.len -= 1;
        if emptied {
            // The lower of the two empty chunks is kept: it fills first.
            match self.spare {
                Some(spare) if spare < c => self.release(c),
                Some(spare) => {
                    self.spare = Some(c);
                    self.release(spare);
                }
                None => self.spare = Some(c),
            }
        }
        job
    }

    /// Empties chunk `c` of its memory, which is returned (cleared); its
    /// slots become virtual, and the generation floor passes theirs.
    fn take_memory(&mut self, c: usize) -> Vec<Slot> {
        let mut slots = std::mem::take(&mut self.chunks[c]).slots;
        for slot in &slots {
            // Generations wrap: the floor moves to a generation ahead of it.
            let gen = slot.gen();
            if gen.wrapping_sub(self.gen_floor) < u32::MAX / 2 {
                self.gen_floor = gen;
            }
        }
        slots.clear();
        slots
    }

    /// Gives an empty chunk's memory back (see [`Slots::take_memory`]).
    fn release(&mut self, c: usize) {
        drop(self.take_memory(c));
        self.drop_released_tail();
    }

    /// Drops the released chunks at the end (chunk 0 stays).
    fn drop_released_tail(&mut self) {
        while self.chunks.len() > 1 && self.chunks.last().is_some_and(|c| !c.is_allocated()) {
            self.chunks.pop();
            self.set_room(self.chunks.len(), false);
        }
        self.room.truncate(self.chunks.len().div_ceil(64));
    }

    /// Every job with its slot number, in slot order.
    pub(super) fn jobs(&self) -> impl Iterator<Item = (u32, &Job)> {
        self.chunks.iter().enumerate().flat_map(|(c, chunk)| {
            chunk
                .slots
                .iter()
                .enumerate()
                .filter_map(move |(i, s)| s.job().map(|j| ((c * CHUNK + i) as u32, j)))
        })
    }

    /// Every job, to change them.
    pub(super) fn jobs_mut(&mut self) -> impl Iterator<Item = &mut Job> {
        self.chunks
            .iter_mut()
            .flat_map(|c| c.slots.iter_mut().filter_map(Slot::job_mut))
    }

    /// The slot after `slot` in a scan: the next one, or the next chunk's
    /// first when the rest of this chunk is virtual.
    pub(super) fn next_in_scan(&self, slot: u32) -> u32 {
        if self.get(slot).is_some() {
            slot + 1
        } else {
            (slot | (CHUNK as u32 - 1)) + 1
        }
    }

    /// Slots allocated (materialized or not), over every chunk.
    #[cfg(test)]
    fn allocated_slots(&self) -> usize {
        self.chunks.iter().map(|c| c.slots.capacity()).sum()
    }

    /// Panics unless the counts and bitmaps agree with the slots.
    pub(super) fn check(&self) {
        for (c, chunk) in self.chunks.iter().enumerate() {
            let live = chunk.slots.iter().filter(|s| s.job().is_some()).count();
            assert_eq!(live, chunk.live, "chunk {c} count");
            for (i, s) in chunk.slots.iter().enumerate() {
                let bit = chunk.vacant[i / 64] >> (i % 64) & 1 == 1;
                assert_eq!(bit, s.job().is_none(), "chunk {c} slot {i} vacancy");
            }
            let room = self.room[c / 64] >> (c % 64) & 1 == 1;
            assert_eq!(room, chunk.live < CHUNK, "chunk {c} room");
            assert!(!room || c >= self.room_hint, "no room below the hint");
            let empty = c > 0 && live == 0 && chunk.is_allocated();
            assert_eq!(empty, self.spare == Some(c), "chunk {c}: the spare");
            if !chunk.is_allocated() {
                assert!(chunk.slots.is_empty() && chunk.vacant == [0; WORDS]);
            }
        }
        assert!(
            self.chunks.len() <= 1 || self.chunks.last().is_some_and(Chunk::is_allocated),
            "no released chunk at the end"
        );
        let len: usize = self.chunks.iter().map(|c| c.live).sum();
        assert_eq!(len, self.len, "job count");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::JobId;

    fn job(n: u32) -> Job {
        let id = JobId::parse(format!("D-dcb833cf-{n:024}-05a1").as_bytes()).expect("a valid id");
        Job::dummy_ack(id, 0)
    }

    #[test]
    fn a_new_job_takes_the_lowest_vacant_slot() {
        let mut slots = Slots::default();
        for n in 0..3000 {
            let slot = slots.lowest_vacant();
            assert_eq!(slot, n);
            slots.fill(slot, job(n));
        }
        slots.vacate(2500);
        slots.vacate(10);
        slots.vacate(1500);
        assert_eq!(slots.lowest_vacant(), 10);
        slots.fill(10, job(10));
        assert_eq!(slots.lowest_vacant(), 1500);
        slots.check();
    }

    #[test]
    fn a_drained_table_gives_its_chunks_back_and_stale_generations_never_return() {
        let mut slots = Slots::default();
        let count = 20 * CHUNK as u32;
        let mut gens = Vec::new();
        for n in 0..count {
            let slot = slots.lowest_vacant();
            gens.push(slots.fill(slot, job(n)));
        }
        for n in 0..count {
            slots.vacate(n);
        }
        slots.check();
        assert_eq!(slots.len(), 0);
        assert!(
            slots.allocated_slots() <= 2 * CHUNK,
            "chunk 0 and one spare stay: {}",
            slots.allocated_slots()
        );
        for n in 0..count {
            let slot = slots.lowest_vacant();
            assert_eq!(slot, n);
            let gen = slots.fill(slot, job(n));
            assert_ne!(gen, gens[n as usize], "slot {n} has a new generation");
        }
        slots.check();
    }

    #[test]
    fn a_table_at_a_chunk_boundary_keeps_its_spare_chunk() {
        let mut slots = Slots::default();
        for n in 0..CHUNK as u32 {
            slots.fill(n, job(n));
        }
        for round in 0..100 {
            let slot = slots.lowest_vacant();
            assert_eq!(slot, CHUNK as u32);
            slots.fill(slot, job(round));
            slots.vacate(slot);
            assert_eq!(slots.allocated_slots(), 2 * CHUNK, "the spare is kept");
        }
        slots.check();
    }

    #[test]
    fn the_spare_is_the_lowest_empty_chunk_and_lends_its_memory() {
        let mut slots = Slots::default();
        let chunk = |c: u32| c * CHUNK as u32..(c + 1) * CHUNK as u32;
        let mut n = 0;
        for slot in chunk(0).start..chunk(6).start {
            slots.fill(slot, job(slot));
        }
        // Chunk 1 is the spare; chunk 4 is released (the spare is lower).
        for c in [1, 4] {
            chunk(c).for_each(|s| drop(slots.vacate(s)));
        }
        assert_eq!(slots.spare, Some(1));
        // Chunk 1 fills again; then chunk 5, at the end, becomes the spare.
        for slot in chunk(1) {
            assert_eq!(slots.lowest_vacant(), slot);
            slots.fill(slot, job(n));
            n += 1;
        }
        chunk(5).for_each(|s| drop(slots.vacate(s)));
        assert_eq!(slots.spare, Some(5));
        slots.check();
        // Chunk 4 fills with the spare's memory; chunk 5 leaves the table.
        let first = slots.lowest_vacant();
        assert_eq!(first, chunk(4).start);
        slots.fill(first, job(n));
        assert_eq!(slots.spare, None);
        assert_eq!(slots.end(), chunk(5).start);
        assert_eq!(slots.allocated_slots(), 5 * CHUNK);
        slots.check();
    }

    #[test]
    fn the_generation_floor_follows_generations_that_wrapped() {
        let mut slots = Slots::default();
        let one = CHUNK as u32;
        for slot in 0..2 * one {
            slots.fill(slot, job(slot));
        }
        for slot in one..2 * one {
            slots.vacate(slot);
        }
        slots.gen_floor = u32::MAX - 1;
        slots.chunks[1].slots[0] = Slot::Vacant { gen: u32::MAX };
        slots.chunks[1].slots[1] = Slot::Vacant { gen: 3 };
        slots.spare = None;
        slots.release(1);
        assert_eq!(slots.gen_floor, 3, "past u32::MAX, not stuck there");
        assert_eq!(slots.gen(one + 1), 3, "a released slot's generation");
        slots.check();
    }
}
