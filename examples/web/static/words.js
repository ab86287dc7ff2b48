// Friendly room names and avatar colours, derived from public ids so that
// every member sees the same ones without the server knowing any of them.

const ADJECTIVES = [
  'Amber', 'Brave', 'Calm', 'Cedar', 'Clear', 'Copper', 'Coral', 'Crisp',
  'Dawn', 'Distant', 'Gentle', 'Golden', 'Hidden', 'Hollow', 'Ivory', 'Jade',
  'Lively', 'Lunar', 'Misty', 'Mossy', 'Quiet', 'Rapid', 'Silver', 'Sleepy',
  'Snowy', 'Solar', 'Still', 'Sunny', 'Swift', 'Velvet', 'Wild', 'Windy',
];

const NOUNS = [
  'Anchor', 'Aspen', 'Bay', 'Beacon', 'Brook', 'Canyon', 'Cove', 'Delta',
  'Dune', 'Fern', 'Fjord', 'Garden', 'Grove', 'Harbor', 'Heron', 'Island',
  'Lagoon', 'Lantern', 'Meadow', 'Orchard', 'Otter', 'Pine', 'Reef', 'Ridge',
  'River', 'Summit', 'Thicket', 'Tide', 'Valley', 'Willow', 'Wren', 'Zephyr',
];

// hash is FNV-1a over the UTF-16 code units of text.
export function hash(text) {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

export function roomName(id) {
  const h = hash(id);
  return `${ADJECTIVES[h % ADJECTIVES.length]} ${NOUNS[(h >>> 8) % NOUNS.length]}`;
}

export function hue(id) {
  return hash(id) % 360;
}

// initial is the first character of a nickname that shows: not a bidi
// control or another invisible format character, not a combining mark.
export function initial(nickname) {
  const first = Array.from(nickname.trim()).find((c) => !/[\p{Cf}\p{M}]/u.test(c));
  return first ?? '?';
}
