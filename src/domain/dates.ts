// Pipeliner renders date-times as `YYYY-MM-DD HH:MM:SS.ffffff+00:00` (reference §4.7). We store them in
// exactly that form, always UTC: fixed width, so text order is time order in SQL and in memory.

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

export function formatDateTime(date: Date): string {
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}.` +
    `${pad(date.getUTCMilliseconds(), 3)}000+00:00`
  );
}

const dateTimePattern =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Accepts any ISO-8601 form (T or space, Z, an offset or none meaning UTC, up to nanoseconds) and
 * returns the canonical form, or null when the text is not a valid date-time.
 */
export function parseDateTime(text: string): string | null {
  const match = dateTimePattern.exec(text.trim());
  if (!match) return null;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', zone] = match;
  const micros = (fraction + '000000').slice(0, 6);
  const iso = `${year}-${month}-${day}T${hour}:${minute}:${second}.${micros.slice(0, 3)}${normaliseZone(zone)}`;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime()) || !sameCalendarDay(date, zone, year, month, day)) return null;
  return formatDateTime(date).replace(/\d{3}\+00:00$/, `${micros.slice(3)}+00:00`);
}

function normaliseZone(zone: string | undefined): string {
  if (!zone || zone.toUpperCase() === 'Z') return 'Z';
  return zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
}

// `new Date` silently rolls 2024-02-30 over to March; reject such dates instead.
function sameCalendarDay(date: Date, zone: string | undefined, year: string, month: string, day: string) {
  if (zone && zone.toUpperCase() !== 'Z') return true;
  return (
    date.getUTCFullYear() === Number(year) &&
    date.getUTCMonth() + 1 === Number(month) &&
    date.getUTCDate() === Number(day)
  );
}

const datePattern = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Date-only fields (`closing_date`, `due_date`) are `YYYY-MM-DD`. Returns null when invalid. */
export function parseDate(text: string): string | null {
  const match = datePattern.exec(text.trim());
  if (!match) {
    const dateTime = parseDateTime(text);
    return dateTime ? dateTime.slice(0, 10) : null;
  }
  const date = new Date(`${match[1]}-${match[2]}-${match[3]}T00:00:00Z`);
  if (Number.isNaN(date.getTime()) || date.getUTCDate() !== Number(match[3])) return null;
  return text.trim();
}

export const nowDateTime = (clock: () => Date = () => new Date()) => formatDateTime(clock());

/** Epoch milliseconds of a canonical date-time (as `parseDateTime` returns). */
export const epochMs = (canonical: string) => Date.parse(`${canonical.slice(0, 23).replace(' ', 'T')}Z`);
