// Apart from container.ts so that `network ls` and `volume ls` sort without loading the container commands.

/** sortorder.NaturalLess, as docker sorts `port`'s lines: runs of digits compare as numbers. */
export function naturalLess(a: string, b: string): boolean {
  const digit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const da = digit(a[i]);
    const db = digit(b[j]);
    if (da !== db) return da;
    if (!da) {
      if (a[i] !== b[j]) return a[i]! < b[j]!;
      i++;
      j++;
      continue;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    const si = i;
    const sj = j;
    while (digit(a[i])) i++;
    while (digit(b[j])) j++;
    if (i - si !== j - sj) return i - si < j - sj;
    const na = a.slice(si, i);
    const nb = b.slice(sj, j);
    if (na !== nb) return na < nb;
    if (si !== sj) return si < sj;
  }
  return a.length < b.length;
}
