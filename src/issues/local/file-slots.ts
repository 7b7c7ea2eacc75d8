/**
 * How many files the local source holds open at once, whatever asks: a scan, a lookup, a tracker
 * read or write. One limit for the whole process, so ten concurrent scans and a thousand
 * concurrent tracker writes still stay under it — unbounded, 1,000 issues opened 18,000
 * descriptors and the next `spawn` died with EMFILE. Each slot covers one file operation and
 * nothing that takes another slot, so waiting for a slot can never deadlock.
 */
import pLimit from 'p-limit';

/** Far below systemd's default soft limit of 1,024, enough to keep a disk busy. */
export const FILE_SLOTS = 16;

export const inFileSlot = pLimit(FILE_SLOTS);
