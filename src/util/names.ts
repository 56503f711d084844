// Generated container names in Docker's style, `adjective_surname` (`eager_hopper`), because users and tools
// recognise them as container names. The word lists are Berth's own: adjectives, and surnames of people who shaped
// computing and science.

const adjectives = [
  'adoring', 'agile', 'amazing', 'ample', 'awesome', 'blissful', 'bold', 'brave', 'bright', 'brisk',
  'busy', 'calm', 'candid', 'charming', 'cheerful', 'clever', 'cool', 'cosmic', 'crisp', 'curious',
  'daring', 'dazzling', 'deft', 'determined', 'devoted', 'dreamy', 'eager', 'earnest', 'elated', 'elegant',
  'epic', 'exciting', 'fair', 'fervent', 'fond', 'friendly', 'gallant', 'gentle', 'gifted', 'gleeful',
  'glowing', 'goofy', 'gracious', 'happy', 'hardy', 'hopeful', 'humble', 'hungry', 'inspiring', 'jolly',
  'jovial', 'keen', 'kind', 'laughing', 'lively', 'loving', 'lucid', 'lucky', 'magical', 'merry',
  'mighty', 'modest', 'nervous', 'nice', 'nifty', 'noble', 'optimistic', 'patient', 'peaceful', 'pensive',
  'plucky', 'polite', 'practical', 'proud', 'quick', 'quiet', 'quirky', 'radiant', 'relaxed', 'resolute',
  'serene', 'sharp', 'shy', 'sleepy', 'smart', 'snappy', 'spirited', 'stoic', 'sunny', 'swift',
  'tender', 'thirsty', 'tidy', 'trusting', 'upbeat', 'vibrant', 'vigilant', 'vivid', 'wise', 'witty',
  'wonderful', 'youthful', 'zealous', 'zen',
];

const surnames = [
  'agnesi', 'allen', 'archimedes', 'babbage', 'backus', 'bardeen', 'bartik', 'bell', 'berners', 'bohr',
  'boole', 'borg', 'bose', 'brahmagupta', 'brattain', 'cerf', 'chandrasekhar', 'chebyshev', 'clarke', 'codd',
  'conway', 'cori', 'corbato', 'cray', 'curie', 'darwin', 'dijkstra', 'dirac', 'easley', 'einstein',
  'elion', 'engelbart', 'euclid', 'euler', 'faraday', 'feynman', 'fermat', 'fermi', 'franklin', 'galileo',
  'gauss', 'germain', 'goldberg', 'goodall', 'gosling', 'hamilton', 'hawking', 'heisenberg', 'hellman', 'hertz',
  'hodgkin', 'hollerith', 'hopper', 'hoover', 'hypatia', 'jackson', 'jemison', 'johnson', 'joliot', 'kahn',
  'kapitsa', 'kare', 'kay', 'kepler', 'kernighan', 'khorana', 'kilby', 'knuth', 'kowalevski', 'lamarr',
  'lamport', 'leakey', 'leavitt', 'lederberg', 'lehmann', 'liskov', 'lovelace', 'lumiere', 'mahavira', 'margulis',
  'matsumoto', 'maxwell', 'mayer', 'mccarthy', 'mcclintock', 'mclean', 'meitner', 'mendel', 'merkle', 'minsky',
  'mirzakhani', 'moore', 'morse', 'murdock', 'napier', 'nash', 'neumann', 'newton', 'nobel', 'noether',
  'noyce', 'ohm', 'pare', 'pascal', 'pasteur', 'pauli', 'perlman', 'pike', 'planck', 'poincare',
  'ptolemy', 'raman', 'ramanujan', 'ride', 'ritchie', 'rivest', 'robinson', 'roentgen', 'rosalind', 'rubin',
  'saha', 'sammet', 'sanger', 'shamir', 'shannon', 'shaw', 'shockley', 'sinoussi', 'snyder', 'spence',
  'stallman', 'stonebraker', 'sutherland', 'swartz', 'tereshkova', 'tesla', 'thompson', 'torvalds', 'turing', 'villani',
  'volta', 'wescoff', 'wilbur', 'wiles', 'williams', 'wilson', 'wing', 'wozniak', 'wright', 'wu',
  'yalow', 'yonath', 'zhukovsky',
];

const pick = (words: readonly string[]) => words[Math.floor(Math.random() * words.length)] as string;

/**
 * A free `adjective_surname` name; on a clash a digit is appended, as dockerd's generator retries (it also never
 * hands out `boring_wozniak`, and Berth has no `boring`). Always terminates: after a few tries more digits follow.
 */
export function generateName(taken: (name: string) => boolean): string {
  const first = `${pick(adjectives)}_${pick(surnames)}`;
  if (!taken(first)) return first;
  for (let attempt = 0; ; attempt++) {
    const digits = attempt < 10 ? 1 : 2 + Math.floor(attempt / 10);
    const name = `${pick(adjectives)}_${pick(surnames)}${String(Math.floor(Math.random() * 10 ** digits)).padStart(digits, '0')}`;
    if (!taken(name)) return name;
  }
}
