// Safety words: a room's safety code as eight common words, easier to
// read aloud and compare than twenty digits.
//
// The list is epchat's own: 256 concrete, common English words of 3 to 7
// letters, each with first three letters no other word has, so a word
// misheard or misspelt is still told apart by its start. Eight words carry
// 64 bits of the code, as many as comparing needs: to pass for a room, a
// substitute key or roster would have to match 2^64 possibilities.

/** The 256 words, one per byte value, in alphabetical order. */
export const SAFETY_WORDS = Object.freeze([
  'acorn', 'album', 'alley', 'amber', 'ankle', 'apple', 'apron', 'aspen',
  'atlas', 'autumn', 'badge', 'bagel', 'bamboo', 'banjo', 'barrel', 'basket',
  'beach', 'bench', 'berry', 'bicycle', 'bison', 'blanket', 'blossom',
  'bottle', 'bread', 'bridge', 'broom', 'bucket', 'bundle', 'butter',
  'cabin', 'cactus', 'camel', 'candle', 'carpet', 'castle', 'cedar',
  'cherry', 'citrus', 'clover', 'coconut', 'collar', 'comet', 'copper',
  'cotton', 'crayon', 'cricket', 'crystal', 'curtain', 'cushion', 'daisy',
  'delta', 'denim', 'desert', 'diamond', 'dinner', 'dolphin', 'donkey',
  'dragon', 'dream', 'drum', 'duck', 'dune', 'eagle', 'echo', 'eclipse',
  'elbow', 'ember', 'engine', 'fabric', 'falcon', 'feather', 'fence',
  'ferry', 'fiddle', 'finger', 'forest', 'fossil', 'fox', 'frog', 'fruit',
  'funnel', 'galaxy', 'garden', 'gecko', 'ginger', 'giraffe', 'glacier',
  'globe', 'goblet', 'grape', 'guitar', 'hammer', 'hazel', 'helmet', 'hobby',
  'hockey', 'honey', 'horizon', 'husky', 'iceberg', 'igloo', 'indigo',
  'insect', 'island', 'ivory', 'jacket', 'jaguar', 'jasmine', 'jelly',
  'jersey', 'jewel', 'juniper', 'kayak', 'kettle', 'kitten', 'kiwi', 'koala',
  'ladder', 'lagoon', 'lantern', 'laptop', 'laser', 'lava', 'leaf', 'lemon',
  'leopard', 'lilac', 'linen', 'lion', 'lizard', 'locket', 'magnet', 'mango',
  'maple', 'marble', 'meadow', 'melon', 'meteor', 'mint', 'mirror', 'mitten',
  'monkey', 'moose', 'mosaic', 'motor', 'muffin', 'napkin', 'needle', 'nest',
  'nickel', 'noodle', 'novel', 'nutmeg', 'oasis', 'ocean', 'octopus',
  'olive', 'onion', 'opera', 'orange', 'orbit', 'orchid', 'otter', 'owl',
  'oyster', 'paddle', 'palace', 'panda', 'parrot', 'pasta', 'peach',
  'pelican', 'pencil', 'pepper', 'piano', 'pickle', 'pigeon', 'pillow',
  'planet', 'pocket', 'pony', 'potato', 'puppet', 'puzzle', 'quail', 'queen',
  'quiz', 'rabbit', 'radio', 'raft', 'rainbow', 'raven', 'recipe', 'ribbon',
  'riddle', 'river', 'robot', 'rocket', 'ruby', 'rudder', 'saddle', 'salmon',
  'sandal', 'satin', 'scarf', 'shadow', 'shovel', 'silver', 'skate',
  'sketch', 'sleeve', 'snail', 'soccer', 'spider', 'spoon', 'statue',
  'sugar', 'summer', 'sunset', 'swan', 'tango', 'temple', 'tennis',
  'thunder', 'ticket', 'tiger', 'timber', 'toast', 'tomato', 'tower',
  'trumpet', 'tulip', 'tunnel', 'turtle', 'tuxedo', 'urchin', 'valley',
  'vanilla', 'velvet', 'violin', 'voyage', 'wagon', 'walnut', 'water',
  'wheat', 'window', 'wizard', 'wolf', 'wombat', 'wrench', 'yellow', 'zebra',
  'zigzag', 'zipper', 'zodiac',
]);

/**
 * safetyWords turns a safety code (any scheme's: its digits are read, the
 * rest ignored) into eight words: its value modulo 2^64, a byte a word,
 * most significant first. Equal codes give equal words, and codes that
 * differ in their lowest 64 bits give different ones. A code with no
 * digits (none yet) gives none.
 * @param {string} code
 * @returns {string[]}
 */
export function safetyWords(code) {
  const digits = code.replace(/[^0-9]/g, '');
  if (digits === '') return [];
  let v = BigInt(digits) & 0xffffffffffffffffn;
  /** @type {string[]} */
  const out = [];
  for (let i = 0; i < 8; i++) {
    out.unshift(SAFETY_WORDS[Number(v & 0xffn)]);
    v >>= 8n;
  }
  return out;
}
