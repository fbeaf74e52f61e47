import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatDateTime, parseDate, parseDateTime } from '../../src/domain/dates.js';

describe('Pipeliner dates', () => {
  it('formats date-times as YYYY-MM-DD HH:MM:SS.ffffff+00:00', () => {
    expect(formatDateTime(new Date(Date.UTC(2019, 1, 1, 13, 17, 3, 495)))).toBe('2019-02-01 13:17:03.495000+00:00');
  });

  it.each([
    ['2019-02-01 13:17:03.495636+00:00', '2019-02-01 13:17:03.495636+00:00'],
    ['2019-01-01T00:00:00', '2019-01-01 00:00:00.000000+00:00'],
    ['2019-01-01T00:00:00Z', '2019-01-01 00:00:00.000000+00:00'],
    ['2019-01-01T02:30:00+02:00', '2019-01-01 00:30:00.000000+00:00'],
    ['2019-01-01T02:30+0230', '2019-01-01 00:00:00.000000+00:00'],
    ['2019-01-01', '2019-01-01 00:00:00.000000+00:00'],
    ['2019-01-01T00:00:00.123456789Z', '2019-01-01 00:00:00.123456+00:00'],
  ])('accepts %s', (input, expected) => {
    expect(parseDateTime(input)).toBe(expected);
  });

  it.each(['2019-02-30', '2019-13-01', 'yesterday', '2019-01-01T25:00:00', ''])('rejects %s', (input) => {
    expect(parseDateTime(input)).toBeNull();
  });

  it('parses date-only fields and rejects impossible days', () => {
    expect(parseDate('2024-02-29')).toBe('2024-02-29');
    expect(parseDate('2023-02-29')).toBeNull();
    expect(parseDate('2024-03-01T23:00:00-02:00')).toBe('2024-03-02');
  });

  it('orders canonical date-times as text the way it orders them in time', () => {
    fc.assert(
      fc.property(fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)), noInvalidDate: true }), fc.date({ min: new Date(0), max: new Date(Date.UTC(9999, 0)), noInvalidDate: true }), (a, b) => {
        const [textA, textB] = [formatDateTime(a), formatDateTime(b)];
        const textOrder = textA < textB ? -1 : textA > textB ? 1 : 0;
        expect(textOrder).toBe(Math.sign(a.getTime() - b.getTime()));
        expect(parseDateTime(textA)).toBe(textA);
      }),
    );
  });
});
