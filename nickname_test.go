package epchat

import (
	"strings"
	"testing"
)

func TestValidNickname(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want string // the trimmed nickname, when ok
	}{
		// Refused: what issue 14 found accepted, and their kin.
		{name: "bidi override", in: "ab\u202ecd"},
		{name: "bidi embedding", in: "ab\u202bcd"},
		{name: "bidi isolate", in: "ab\u2067cd\u2069"},
		{name: "left-to-right mark", in: "ab\u200ecd"},
		{name: "arabic letter mark", in: "\u0628\u061c\u0628"},
		{name: "zero-width space inside", in: "ow\u200bner"},
		{name: "byte order mark first", in: "\ufeffowner"},
		{name: "word joiner", in: "ow\u2060ner"},
		{name: "soft hyphen", in: "ow\u00adner"},
		{name: "zero-width space alone", in: "\u200b"},
		{name: "Hangul filler alone", in: "\u3164"},
		{name: "Hangul filler in a name", in: "Ana\u3164"},
		{name: "Hangul choseong filler", in: "\u115f\u1160"},
		{name: "half-width Hangul filler", in: "\uffa0"},
		{name: "combining grapheme joiner", in: "a\u034fb"},
		{name: "Khmer inherent vowel", in: "\u1780\u17b4"},
		{name: "tag characters", in: "owner\U000E0041\U000E0042"},
		{name: "tag characters alone", in: "\U000E0001\U000E0020"},
		{name: "variation selector alone", in: "\ufe0f"},
		{name: "variation selector first", in: "\ufe0fAna"},
		{name: "two variation selectors", in: "\u2764\ufe0f\ufe0f"},
		{name: "variation selector after a space", in: "Ana \ufe0fBen"},
		{name: "Mongolian vowel separator", in: "a\u180eb"},
		{name: "braille blank", in: "\u2800"},
		{name: "31 stacked combining marks", in: "a" + strings.Repeat("\u0301", 31)},
		{name: "4 marks on a Devanagari letter", in: "\u0915\u0901\u0902\u093c\u094d"},
		{name: "combining mark first", in: "\u0301Ana"},
		{name: "decomposed e acute", in: "Jose\u0301"},
		{name: "ZWJ between Latin letters", in: "ow\u200dner"},
		{name: "ZWNJ between Latin letters", in: "ow\u200cner"},
		{name: "ZWJ at the end", in: "\U0001F469\u200d"},
		{name: "two ZWJ", in: "\U0001F469\u200d\u200d\U0001F4BB"},
		{name: "line separator", in: "a\u2028b"},
		{name: "private use", in: "a\ue000b"},
		{name: "unassigned", in: "a\U0003fffeb"},
		{name: "control", in: "a\x07b"},
		{name: "replacement character", in: "a\ufffdb"},
		{name: "only spaces", in: " \u3000 "},
		{name: "empty", in: ""},
		{name: "too long", in: strings.Repeat("a", 33)},

		// Accepted: names in many scripts.
		{name: "Latin", in: "Ana", ok: true},
		{name: "trimmed", in: "  Ana  ", ok: true, want: "Ana"},
		{name: "Latin with spaces", in: "Ana María", ok: true},
		{name: "precomposed accents", in: "José Ñúñez", ok: true},
		{name: "Vietnamese", in: "Nguyễn Thị Ánh", ok: true},
		{name: "Chinese", in: "王小明", ok: true},
		{name: "Japanese", in: "やまだ　太郎", ok: true},
		{name: "Korean", in: "김민준", ok: true},
		{name: "Arabic", in: "محمد", ok: true},
		{name: "Arabic with harakat", in: "مُحَمَّد", ok: true},
		{name: "Persian with ZWNJ", in: "علی\u200cرضا", ok: true},
		{name: "Hebrew with points", in: "שָׁלוֹם", ok: true},
		{name: "Devanagari with marks", in: "अनुष्का", ok: true},
		{name: "Devanagari conjunct with nukta and virama", in: "क़्ष", ok: true},
		{name: "Devanagari half form by ZWJ", in: "क्\u200dष", ok: true},
		{name: "Hindi with chandrabindu", in: "हूँ", ok: true},
		{name: "Bengali", in: "অর্পিতা", ok: true},
		{name: "Tamil", in: "தமிழ்", ok: true},
		{name: "Malayalam with ZWJ", in: "ന്\u200dമ", ok: true},
		{name: "Thai", in: "สมชาย", ok: true},
		{name: "Thai with tone marks", in: "น้ำ", ok: true},
		{name: "Cyrillic", in: "Дмитрий", ok: true},
		{name: "Greek", in: "Αλέξανδρος", ok: true},
		{name: "Georgian", in: "ნინო", ok: true},
		{name: "Amharic", in: "አበበ", ok: true},
		{name: "emoji", in: "Ana 🌍", ok: true},
		{name: "emoji with VS16", in: "❤️ Ana", ok: true},
		{name: "emoji ZWJ sequence", in: "👩\u200d💻", ok: true},
		{name: "emoji ZWJ sequence with skin tone", in: "👩🏽\u200d💻", ok: true},
		{name: "flag by ZWJ with VS16", in: "🏳\ufe0f\u200d🌈", ok: true},
		{name: "family", in: "👨\u200d👩\u200d👧", ok: true},
		{name: "digits and punctuation", in: "R2-D2 (bot)", ok: true},
		{name: "32 characters", in: strings.Repeat("é", 32), ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := validNickname(tt.in)
			if ok != tt.ok {
				t.Fatalf("validNickname(%+q) ok = %v, want %v", tt.in, ok, tt.ok)
			}
			want := tt.want
			if want == "" && tt.ok {
				want = tt.in
			}
			if ok && got != want {
				t.Fatalf("validNickname(%+q) = %+q, want %+q", tt.in, got, want)
			}
		})
	}
}

func TestNicknameKey(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{name: "exact copy", a: "Ana", b: "Ana", same: true},
		{name: "case", a: "Ana", b: "aNA", same: true},
		{name: "Kelvin sign", a: "Kim", b: "\u212aim", same: true},
		{name: "full-width", a: "Ana", b: "Ａｎａ", same: true},
		{name: "Cyrillic a and o", a: "Anton", b: "Аntоn", same: true},
		{name: "Greek capitals", a: "HOPE", b: "ΗΟΡΕ", same: true},
		{name: "capital I and small l", a: "Alice", b: "AIice", same: true},
		{name: "digit one", a: "Alice", b: "A1ice", same: true},
		{name: "digit zero", a: "Bob", b: "B0b", same: true},
		{name: "rn and m", a: "Kim", b: "Kirn", same: true},
		{name: "spaces", a: "Ana María", b: "Ana   María", same: true},
		{name: "joiner dropped", a: "👩💻", b: "👩\u200d💻", same: true},
		{name: "selector dropped", a: "❤ Ana", b: "❤️ Ana", same: true},
		{name: "two people", a: "Ana", b: "Ben", same: false},
		{name: "accents differ", a: "José", b: "Jose", same: false},
		{name: "Chinese", a: "王小明", b: "王小名", same: false},
		{name: "Devanagari", a: "अनुष्का", b: "अनुष्कां", same: false},
		{name: "a space more", a: "Ana B", b: "AnaB", same: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := NicknameKey(tt.a), NicknameKey(tt.b)
			if (ka == kb) != tt.same {
				t.Fatalf("NicknameKey(%+q) = %+q, NicknameKey(%+q) = %+q: same %v, want %v", tt.a, ka, tt.b, kb, ka == kb, tt.same)
			}
		})
	}
}
