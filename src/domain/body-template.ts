// A delivery's body rendered before its write's revisions are taken (PostgreSQL takes them in the
// statement that stores the deliveries and commits, see RecordStore.takeRevisionsAndCommit): the JSON
// with each provisional revision cut out, for the statement to write the real one in.
//
// The template is the JSON's pieces with, between each two, the revision's offset from the write's
// last revision, each set off by SEPARATOR: piece SEPARATOR offset SEPARATOR piece … The statement
// splits it at SEPARATOR and writes `last + offset` in place of every second part.

/** JSON.stringify escapes every control character, so this one is never in its output. */
export const SEPARATOR = '\u0001';

/** A number to stand in for a revision while the JSON is rendered; another is tried should the JSON hold its digits already. */
const STAND_IN = Number.MAX_SAFE_INTEGER;

/**
 * The JSON of `value` as a template: where a `revision` field holds one of `offsets`' keys (the
 * write's provisional revisions), its offset from the write's last revision goes instead.
 */
export function jsonTemplate(value: unknown, offsets: ReadonlyMap<number, number>): string {
  if (offsets.size === 0) return JSON.stringify(value);
  for (let standIn = STAND_IN; ; standIn -= 1) {
    // The replacer sees the fields in the order JSON.stringify writes them.
    const found: number[] = [];
    const json = JSON.stringify(value, (key, field: unknown) => {
      if (key !== 'revision' || typeof field !== 'number' || !offsets.has(field)) return field;
      found.push(offsets.get(field)!);
      return standIn;
    });
    const pieces = json.split(String(standIn));
    // Digits of the stand-in anywhere else (a record's own number) would cut the JSON once more.
    if (pieces.length !== found.length + 1) continue;
    return pieces.reduce((template, piece, index) => `${template}${SEPARATOR}${found[index - 1]}${SEPARATOR}${piece}`);
  }
}
