/**
 * An elastic-tabstop column aligner with the semantics of Go's `text/tabwriter` as the docker CLI uses it
 * (its fork measures cell widths in terminal columns, so wide East Asian characters count 2). Written by hand for Berth.
 *
 * Text is split into cells terminated by '\t' (or '\v', a "soft" cell); '\n' and '\f' end a line. A cell
 * terminated by a tab belongs to a column; the last cell of a line (the text after its final tab) does not,
 * so it is never padded and lines carry no trailing spaces unless the input itself ends a line with a tab.
 * A column is a run of consecutive lines that all have a cell in it; its width is the widest cell plus
 * `padding`, at least `minwidth`.
 */

export const AlignRight = 1 << 2;
export const DiscardEmptyColumns = 1 << 3;
export const Debug = 1 << 5;

interface Cell {
  text: string;
  width: number;
  htab: boolean;
}

// Made at first use: ICU's segmenter costs ~14 ms to create, and most output is plain ASCII (the fast path).
let segmenter: Intl.Segmenter | undefined;
const zeroWidthRe = /^[\p{Mn}\p{Me}\p{Cf}\p{Cc}]$/u;
const emojiRe = /^\p{Extended_Pictographic}$/u;

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x231a && cp <= 0x231b) ||
    (cp >= 0x2329 && cp <= 0x232a) ||
    (cp >= 0x23e9 && cp <= 0x23ec) ||
    cp === 0x23f0 ||
    cp === 0x23f3 ||
    (cp >= 0x25fd && cp <= 0x25fe) ||
    (cp >= 0x2614 && cp <= 0x2615) ||
    (cp >= 0x2648 && cp <= 0x2653) ||
    cp === 0x267f ||
    cp === 0x2693 ||
    cp === 0x26a1 ||
    (cp >= 0x26aa && cp <= 0x26ab) ||
    (cp >= 0x26bd && cp <= 0x26be) ||
    (cp >= 0x26c4 && cp <= 0x26c5) ||
    cp === 0x26ce ||
    cp === 0x26d4 ||
    cp === 0x26ea ||
    (cp >= 0x26f2 && cp <= 0x26f3) ||
    cp === 0x26f5 ||
    cp === 0x26fa ||
    cp === 0x26fd ||
    cp === 0x2705 ||
    (cp >= 0x270a && cp <= 0x270b) ||
    cp === 0x2728 ||
    cp === 0x274c ||
    cp === 0x274e ||
    (cp >= 0x2753 && cp <= 0x2755) ||
    cp === 0x2757 ||
    (cp >= 0x2795 && cp <= 0x2797) ||
    cp === 0x27b0 ||
    cp === 0x27bf ||
    (cp >= 0x2b1b && cp <= 0x2b1c) ||
    cp === 0x2b50 ||
    cp === 0x2b55 ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xa960 && cp <= 0xa97f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe10 && cp <= 0xfe19) ||
    (cp >= 0xfe30 && cp <= 0xfe6f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x16fe0 && cp <= 0x16fe4) ||
    (cp >= 0x17000 && cp <= 0x18cff) ||
    (cp >= 0x1b000 && cp <= 0x1b2ff) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f680 && cp <= 0x1f6ff) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x1fa70 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

function runeWidth(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (cp < 0x300) return 1;
  if (zeroWidthRe.test(ch) || (cp >= 0x200b && cp <= 0x200f)) return 0;
  return isWide(cp) ? 2 : 1;
}

/** Display width of a string in terminal columns (like go-runewidth's StringWidth). */
export function stringWidth(s: string): number {
  // fast path: printable ASCII
  if (/^[\x20-\x7e]*$/.test(s)) return s.length;
  let w = 0;
  for (const { segment } of (segmenter ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' })).segment(s)) {
    let cw = 0;
    for (const ch of segment) {
      const rw = emojiRe.test(ch) && ch.codePointAt(0)! >= 0x1f000 ? 2 : runeWidth(ch);
      if (rw > 0) {
        cw = rw;
        break;
      }
    }
    w += cw;
  }
  return w;
}

export class TabWriter {
  private lines: Cell[][] = [[]];
  private cell = '';
  private out = '';
  private widths: number[] = [];

  /** Docker's tables: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`. */
  constructor(
    private readonly minwidth = 10,
    private readonly tabwidth = 1,
    private readonly padding = 3,
    private readonly padchar = ' ',
    private readonly flags = 0,
  ) {}

  write(text: string): this {
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const ch = text[i];
      if (ch !== '\t' && ch !== '\v' && ch !== '\n' && ch !== '\f') continue;
      this.cell += text.slice(start, i);
      start = i + 1;
      const ncells = this.terminateCell(ch === '\t');
      if (ch === '\n' || ch === '\f') {
        this.lines.push([]);
        // a line with a single cell cannot affect the alignment of what follows
        if (ch === '\f' || ncells === 1) this.flushLines();
        if (ch === '\f' && this.flags & Debug) this.out += '---\n';
      }
    }
    this.cell += text.slice(start);
    return this;
  }

  /** Formats everything buffered and returns all output produced so far (and clears it). */
  flush(): string {
    if (this.cell.length > 0) this.terminateCell(false);
    this.flushLines();
    const out = this.out;
    this.out = '';
    return out;
  }

  private terminateCell(htab: boolean): number {
    const line = this.lines[this.lines.length - 1]!;
    line.push({ text: this.cell, width: stringWidth(this.cell), htab });
    this.cell = '';
    return line.length;
  }

  private flushLines(): void {
    this.format(0, this.lines.length);
    this.lines = [[]];
  }

  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let i = line0; i < line1; i++) {
      if (column >= this.lines[i]!.length - 1) continue;
      // a cell exists in this column: print the lines above the block, then find the block's extent
      this.writeLines(line0, i);
      line0 = i;
      let width = this.minwidth;
      let discardable = true;
      for (; i < line1; i++) {
        const line = this.lines[i]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        width = Math.max(width, c.width + this.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && this.flags & DiscardEmptyColumns) width = 0;
      this.widths.push(width);
      this.format(line0, i);
      this.widths.pop();
      line0 = i;
    }
    this.writeLines(line0, line1);
  }

  private padding_(textw: number, cellw: number): string {
    if (this.padchar === '\t') {
      if (this.tabwidth === 0) return '';
      const w = Math.ceil(cellw / this.tabwidth) * this.tabwidth;
      return '\t'.repeat(Math.ceil((w - textw) / this.tabwidth));
    }
    return this.padchar.repeat(Math.max(cellw - textw, 0));
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      line.forEach((c, j) => {
        if (j > 0 && this.flags & Debug) this.out += '|';
        if (c.text.length === 0) {
          if (j < this.widths.length) this.out += this.padding_(c.width, this.widths[j]!);
        } else if (this.flags & AlignRight) {
          if (j < this.widths.length) this.out += this.padding_(c.width, this.widths[j]!);
          this.out += c.text;
        } else {
          this.out += c.text;
          if (j < this.widths.length) this.out += this.padding_(c.width, this.widths[j]!);
        }
      });
      // the last buffered line has no newline of its own
      if (i + 1 < this.lines.length) this.out += '\n';
    }
  }
}

/** Aligns text the way docker's tables do (`tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`). */
export function tabulate(text: string, minwidth = 10, tabwidth = 1, padding = 3, padchar = ' ', flags = 0): string {
  return new TabWriter(minwidth, tabwidth, padding, padchar, flags).write(text).flush();
}
