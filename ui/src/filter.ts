// Building search filters from what a user typed: string literals of the search grammar
// (backslash escapes for quotes and backslashes), and the name searches of list pages.

export function sqlString(s: string): string {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'") + "'";
}

/** `name ILIKE '%text%'`, or no filter for an empty search. */
export function nameContains(text: string): string | undefined {
  const t = text.trim();
  return t ? `name ILIKE ${sqlString(`%${t}%`)}` : undefined;
}

export function nameIs(name: string): string {
  return `name = ${sqlString(name)}`;
}
