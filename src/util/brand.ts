/**
 * `instanceof` by brand rather than by prototype, for the CLI's values that cross its bundles: the fast path and
 * its --format bundle each carry a copy of the modules they share (see scripts/build.mjs), so a class's value made
 * by one copy is checked against the other copy's class. A class defines
 * `static [Symbol.hasInstance](v) { return hasBrand(this, Own, v, brand) }` and a getter `[brand]` returning true.
 */
export function hasBrand(asked: unknown, own: abstract new (...args: never[]) => unknown, v: unknown, brand: symbol): boolean {
  // a subclass keeps the usual check: only the branded class itself is recognised by its brand
  if (asked !== own) return Function.prototype[Symbol.hasInstance].call(asked, v) as boolean;
  return typeof v === 'object' && v !== null && (v as Record<symbol, unknown>)[brand] === true;
}
