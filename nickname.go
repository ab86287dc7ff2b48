package epchat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// The nickname rules (PROTOCOL.md, hello; SECURITY.md, Nicknames). A
// nickname is shown to the other members of a room as the one thing that
// tells them apart, so it must show what it is: no character that is
// invisible or that reorders or hides the text around it, and no two
// members of one room whose nicknames look alike.
//
// A nickname, trimmed of white space, is 1 to 32 characters of which:
//
//   - none is a control, format (Cf: bidi embeddings, overrides and
//     isolates, marks, zero-width space, word joiner, U+FEFF, soft hyphen,
//     tag characters, ...), private-use, surrogate, unassigned or
//     line/paragraph separator character, nor U+FFFD, nor a
//     default-ignorable one (U+034F, the Hangul fillers U+115F, U+1160,
//     U+3164 and U+FFA0, U+17B4, U+17B5, ...) nor a blank one (U+2800);
//   - but for these joiners, where they are needed: ZWJ (U+200D) between
//     two symbols (emoji sequences such as 👩‍💻, with an optional U+FE0F or
//     skin tone between), and ZWJ or ZWNJ (U+200C) after a letter of a
//     script that joins its letters (Arabic, Syriac, N'Ko, Mongolian and
//     the Brahmic scripts of India and Sri Lanka) and before another
//     letter or mark of those scripts;
//   - a variation selector (U+FE00 to U+FE0F, U+E0100 to U+E01EF, and the
//     Mongolian ones) only right after a character it can vary, one at a
//     time: never on its own, at the start, after a space or another
//     selector;
//   - at most maxMarks combining marks (Mn, Me) follow one another, and
//     none starts the name; on a Latin, Greek or Cyrillic letter none at
//     all: every letter of those scripts has a precomposed form, and a
//     decomposed é would look like the precomposed one while being
//     another nickname;
//   - at least one is not a space.
//
// Two nicknames are the same in a room when their nicknameKey is: case
// folded, full-width ASCII read as ASCII, a few letters and digits that
// look alike read as one (Cyrillic and Greek look-alikes of Latin
// letters, 0 and o, 1, I and l, rn and m, vv and w), joiners and
// variation selectors dropped, runs of spaces read as one. The standard
// library has no NFKC nor the Unicode confusables table; this skeleton
// catches the look-alikes that fit in the Latin, Greek and Cyrillic
// scripts and the copies by case, which is what a member can type to pass
// for another.

// maxNickname is the longest nickname, in characters.
const maxNickname = 32

// maxMarks is the most combining marks that may follow one another:
// enough for Vietnamese, Thai, Hebrew points and the clusters of the
// Brahmic scripts; stacks past it are the "zalgo" text that draws over
// its neighbours.
const maxMarks = 3

// joiningScripts are the scripts where ZWJ and ZWNJ change how letters
// join, and so belong in a name.
var joiningScripts = []*unicode.RangeTable{
	unicode.Arabic, unicode.Syriac, unicode.Nko, unicode.Mongolian,
	unicode.Devanagari, unicode.Bengali, unicode.Gurmukhi, unicode.Gujarati,
	unicode.Oriya, unicode.Tamil, unicode.Telugu, unicode.Kannada,
	unicode.Malayalam, unicode.Sinhala,
}

// precomposedScripts are the scripts whose letters all have precomposed
// forms: a combining mark on them is refused.
var precomposedScripts = []*unicode.RangeTable{unicode.Latin, unicode.Greek, unicode.Cyrillic}

const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// validNickname trims s and checks it against the nickname rules; it
// returns the trimmed nickname.
func validNickname(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if n := utf8.RuneCountInString(s); n < 1 || n > maxNickname {
		return "", false
	}
	runes := []rune(s)
	var (
		base    rune // the last character that is not a mark or selector; 0 at the start and after a space
		prev    rune // the last character
		marks   int  // combining marks in a row
		visible bool
	)
	for i, r := range runes {
		var next rune
		if i+1 < len(runes) {
			next = runes[i+1]
		}
		switch {
		case isIgnorable(r):
			return "", false
		case r == zwj || r == zwnj:
			if !joinerAllowed(r, base, prev, next) {
				return "", false
			}
			prev, marks = r, 0
			continue
		case isVariationSelector(r):
			if base == 0 || prev != base && !isEmojiModifier(prev) {
				return "", false
			}
			prev = r
			continue
		case unicode.In(r, unicode.Mn, unicode.Me):
			if base == 0 || unicode.In(base, precomposedScripts...) {
				return "", false
			}
			if marks++; marks > maxMarks {
				return "", false
			}
			prev = r
			continue
		case isEmojiModifier(r) && unicode.Is(unicode.So, base) && prev == base:
			prev = r // a skin tone is part of its emoji
			continue
		case unicode.Is(unicode.Zs, r):
			base, prev, marks = 0, r, 0
			continue
		}
		if !unicode.IsGraphic(r) || r == utf8.RuneError || r == '\u2800' {
			return "", false
		}
		base, prev, marks, visible = r, r, 0, true
	}
	return s, visible
}

// joinerAllowed tells whether a ZWJ or ZWNJ may stand between prev and
// next, in a cluster whose base character is base.
func joinerAllowed(j, base, prev, next rune) bool {
	if base == 0 || next == 0 {
		return false
	}
	if j == zwj && unicode.Is(unicode.So, base) && unicode.Is(unicode.So, next) {
		return prev == base || isVariationSelector(prev) || isEmojiModifier(prev)
	}
	if prev == zwj || prev == zwnj {
		return false
	}
	return unicode.In(base, joiningScripts...) && unicode.In(next, joiningScripts...) &&
		(unicode.IsLetter(next) || unicode.In(next, unicode.Mn, unicode.Mc))
}

// isVariationSelector reports the variation selectors, Mongolian's free
// ones included.
func isVariationSelector(r rune) bool {
	return unicode.Is(unicode.Variation_Selector, r)
}

// isEmojiModifier reports the skin tone modifiers U+1F3FB to U+1F3FF.
func isEmojiModifier(r rune) bool { return r >= 0x1F3FB && r <= 0x1F3FF }

// isIgnorable reports the default-ignorable characters that are not
// format characters (those are not graphic): U+034F, the Hangul fillers,
// U+17B4 and U+17B5, and the reserved ranges.
func isIgnorable(r rune) bool {
	return unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
}

// NicknameKey returns the form of a nickname under which two members of
// one room may not both be seated: case folded, with look-alike letters
// and digits read as one and invisible joiners dropped (nickname.go has
// the rules). A Store's Redeem compares it (ErrNicknameTaken).
func NicknameKey(nick string) string {
	var b strings.Builder
	b.Grow(len(nick))
	space := false
	for _, r := range strings.TrimSpace(nick) {
		switch {
		case unicode.Is(unicode.Cf, r) || isVariationSelector(r) || isIgnorable(r):
			continue // the joiners and selectors a nickname may hold
		case unicode.IsSpace(r):
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(keyRune(r))
	}
	key := b.String()
	for _, p := range [][2]string{{"rn", "m"}, {"vv", "w"}} {
		key = strings.ReplaceAll(key, p[0], p[1])
	}
	return key
}

// keyRune is the key of one character: full-width ASCII as ASCII, a
// Greek or Cyrillic look-alike as its Latin letter, in its case; then the
// case folded (to the smallest of the case orbit, so K, k and the Kelvin
// sign are one; ASCII to lower case); then 0 as o, and 1, i and | as l
// (I and l look alike, and the case is folded).
func keyRune(r rune) rune {
	if r >= 0xFF01 && r <= 0xFF5E {
		r -= 0xFF01 - '!'
	}
	if l, ok := lookAlike[r]; ok {
		r = l
	}
	least := r
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		least = min(least, f)
	}
	if least < utf8.RuneSelf {
		least = unicode.ToLower(least)
	}
	switch least {
	case '0':
		return 'o'
	case '1', 'i', '|':
		return 'l'
	}
	return least
}

// lookAlike maps Greek, Cyrillic and Latin letters that look like a
// basic Latin letter to that letter, in the same case.
var lookAlike = map[rune]rune{
	// Greek
	'Α': 'A', 'α': 'a', 'Β': 'B', 'Ε': 'E', 'Ζ': 'Z', 'Η': 'H', 'η': 'n',
	'Ι': 'I', 'ι': 'i', 'Κ': 'K', 'κ': 'k', 'Μ': 'M', 'Ν': 'N', 'ν': 'v',
	'Ο': 'O', 'ο': 'o', 'Ρ': 'P', 'ρ': 'p', 'Τ': 'T', 'Υ': 'Y', 'υ': 'u',
	'Χ': 'X', 'χ': 'x',
	// Cyrillic
	'А': 'A', 'а': 'a', 'В': 'B', 'Е': 'E', 'е': 'e', 'К': 'K', 'к': 'k',
	'М': 'M', 'Н': 'H', 'О': 'O', 'о': 'o', 'Р': 'P', 'р': 'p', 'С': 'C',
	'с': 'c', 'Т': 'T', 'У': 'Y', 'у': 'y', 'Х': 'X', 'х': 'x', 'Ѕ': 'S',
	'ѕ': 's', 'І': 'I', 'і': 'i', 'Ј': 'J', 'ј': 'j', 'ԁ': 'd', 'һ': 'h',
	'Ԛ': 'Q', 'ԛ': 'q', 'Ԝ': 'W', 'ԝ': 'w',
	// Latin
	'ı': 'i', 'ɡ': 'g', 'ɑ': 'a',
}
