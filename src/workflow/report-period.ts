/**
 * The periods of the reports: a day (midnight to midnight) or a week (Monday 00:00 to the next
 * Monday 00:00) in a time zone, so a report's boundaries are the operator's, daylight saving
 * included (a day may last 23 or 25 hours). Pure: the time is passed in.
 *
 * A period's key names it durably: `report.daily.2026-12-01`, `report.weekly.2026-11-30` (the
 * week's Monday). It is what makes a report posted once per period (src/actors/reporter.ts).
 */

export type ReportPeriodKind = 'daily' | 'weekly';
export const REPORT_PERIODS: readonly ReportPeriodKind[] = ['daily', 'weekly'];

export interface ReportPeriod {
  kind: ReportPeriodKind;
  /** The local date the period starts on, YYYY-MM-DD. */
  start: string;
  timeZone: string;
  /** [since, until): ms since the epoch. */
  since: number;
  until: number;
  /** `report.<kind>.<start>`. */
  key: string;
}

interface LocalDate {
  year: number;
  month: number;
  day: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formatters.set(timeZone, found);
  }
  return found;
}

/** The wall clock of `timeZone` at `at`, read as if it were UTC: its difference to `at` is the zone's offset. */
function wallClock(at: number, timeZone: string): number {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(new Date(at)).map((part) => [part.type, Number(part.value)]));
  return Date.UTC(parts.year!, parts.month! - 1, parts.day!, parts.hour!, parts.minute!, parts.second!);
}

function localDate(at: number, timeZone: string): LocalDate {
  const wall = new Date(wallClock(at, timeZone));
  return { year: wall.getUTCFullYear(), month: wall.getUTCMonth() + 1, day: wall.getUTCDate() };
}

/** The instant local midnight starts `date` in `timeZone` (days past the month's end roll over). */
function midnight({ year, month, day }: LocalDate, timeZone: string): number {
  const wall = Date.UTC(year, month - 1, day);
  // Two passes: the offset at the first guess may differ from the offset at midnight (DST).
  const first = wall - (wallClock(wall, timeZone) - Math.floor(wall / 1000) * 1000);
  return wall - (wallClock(first, timeZone) - Math.floor(first / 1000) * 1000);
}

const iso = ({ year, month, day }: LocalDate): string => new Date(Date.UTC(year, month - 1, day)).toISOString().slice(0, 10);

/** The period of `kind` that contains `at`. */
export function periodOf(kind: ReportPeriodKind, at: number, timeZone: string): ReportPeriod {
  const date = localDate(at, timeZone);
  let first = date;
  if (kind === 'weekly') {
    // Monday first (ISO 8601): Sunday (0) goes back six days.
    const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
    first = { ...date, day: date.day - ((weekday + 6) % 7) };
  }
  const since = midnight(first, timeZone);
  const until = midnight({ ...first, day: first.day + (kind === 'weekly' ? 7 : 1) }, timeZone);
  const start = iso(first);
  return { kind, start, timeZone, since, until, key: `report.${kind}.${start}` };
}

/** The last period of `kind` that ended at or before `at`: what a firing at `at` reports. */
export function lastCompletePeriod(kind: ReportPeriodKind, at: number, timeZone: string): ReportPeriod {
  return periodOf(kind, periodOf(kind, at, timeZone).since - 1, timeZone);
}

/**
 * `--at`: a date (YYYY-MM-DD, noon of that day in `timeZone`, so the day is that day wherever the
 * zone is) or an ISO time; undefined when it is neither.
 */
export function parseReportDate(text: string, timeZone: string): number | undefined {
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
  if (day) {
    const date = { year: Number(day[1]), month: Number(day[2]), day: Number(day[3]) };
    if (iso(date) !== text.trim()) return undefined;
    return midnight(date, timeZone) + 12 * 3_600_000;
  }
  const time = /^\d{4}-\d{2}-\d{2}T/.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isFinite(time) ? time : undefined;
}
