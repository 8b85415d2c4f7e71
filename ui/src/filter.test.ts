import { describe, expect, it } from 'vitest';
import { nameContains, nameIs, sqlString } from './filter';

describe('filters', () => {
  it('quotes string literals with backslash escapes', () => {
    expect(sqlString('wine')).toBe("'wine'");
    expect(sqlString("o'neil")).toBe("'o\\'neil'");
    expect(sqlString('a\\b')).toBe("'a\\\\b'");
  });
  it('builds name searches', () => {
    expect(nameContains('  ')).toBeUndefined();
    expect(nameContains(' wine ')).toBe("name ILIKE '%wine%'");
    expect(nameIs("it's")).toBe("name = 'it\\'s'");
  });
});
