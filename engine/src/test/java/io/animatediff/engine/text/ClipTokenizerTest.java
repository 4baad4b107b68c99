package io.animatediff.engine.text;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A small CLIP-shaped vocabulary built like the real one (the 256 byte symbols, the same with
 * "</w>", one entry per merge, then BOS and EOS), so single-byte ids equal CLIP's ("a</w>" = 320).
 * Expected BPE results below were worked out by hand from the merge ranks.
 */
class ClipTokenizerTest {
    private static final List<String> MERGES = List.of(
            "e r</w>", // 0
            "n e", // 1
            "w er</w>", // 2
            "ne w", // 3
            "l o", // 4
            "lo w", // 5
            "c a", // 6
            "ca t</w>", // 7
            "a a", // 8
            "h e", // 9
            "l l", // 10
            "he ll", // 11
            "hell o</w>"); // 12

    private static Map<String, Integer> vocab(List<String> merges) {
        char[] bytes = ClipTokenizer.bytesToUnicode();
        List<String> symbols = new ArrayList<>();
        // bytes_to_unicode's dict order: printable bytes first, then the remapped ones
        List<Integer> order = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            if (bytes[b] == b) {
                order.add(b);
            }
        }
        for (int b = 0; b < 256; b++) {
            if (bytes[b] != b) {
                order.add(b);
            }
        }
        for (int b : order) {
            symbols.add(String.valueOf(bytes[b]));
        }
        for (int b : order) {
            symbols.add(bytes[b] + "</w>");
        }
        for (String m : merges) {
            symbols.add(m.replace(" ", ""));
        }
        symbols.add(ClipTokenizer.BOS_TOKEN);
        symbols.add(ClipTokenizer.EOS_TOKEN);
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String s : symbols) {
            vocab.putIfAbsent(s, vocab.size());
        }
        return vocab;
    }

    private static final Map<String, Integer> VOCAB = vocab(MERGES);
    private static final ClipTokenizer TOKENIZER = ClipTokenizer.of(VOCAB, MERGES, ClipTokenizer.EOS_TOKEN);

    @Test
    void bytesToUnicodeIsGpt2s() {
        char[] map = ClipTokenizer.bytesToUnicode();
        assertEquals('!', map['!']);
        assertEquals('a', map['a']);
        assertEquals('\u00e9', map[0xE9]); // printable Latin-1 stays
        assertEquals('\u0100', map[0x00]); // 'Ā'
        assertEquals('\u010A', map['\n']); // 'Ċ'
        assertEquals('\u0120', map[' ']); // 'Ġ'
        assertEquals('\u0121', map[0x7F]); // 'ġ'
        assertEquals('\u0142', map[0xA0]); // 'ł'
        assertEquals('\u0143', map[0xAD]); // 'Ń', the last one
        assertEquals(256, new String(map).chars().distinct().count());
        assertEquals(320, VOCAB.get("a</w>")); // as in CLIP's vocab.json
    }

    @Test
    void handCheckedMergeSequences() {
        // newer: n e w e r</w> -(0)-> n e w er</w> -(1)-> ne w er</w> -(2)-> ne wer</w>; (ne, wer</w>) unranked.
        // Rank order, not left-to-right: "ne w" (3) never fires because "w er</w>" (2) wins first.
        assertEquals(List.of("ne", "wer</w>"), TOKENIZER.tokenize("newer"));
        // lower: l o w e r</w> -(0)-> l o w er</w> -(2)-> l o wer</w> -(4)-> lo wer</w>
        assertEquals(List.of("lo", "wer</w>"), TOKENIZER.tokenize("lower"));
        // low: l o w</w> -(4)-> lo w</w>; "lo w" (5) does not match "lo w</w>": the end-of-word mark counts
        assertEquals(List.of("lo", "w</w>"), TOKENIZER.tokenize("low"));
        // hello: h e l l o</w> -(9)-> he l l o</w> -(10)-> he ll o</w> -(11)-> hell o</w> -(12)-> hello</w>
        assertEquals(List.of("hello</w>"), TOKENIZER.tokenize("hello"));
        // aaaa: a a a a</w> -(8)-> aa a a</w>: non-overlapping, left to right; (a, a</w>) unranked
        assertEquals(List.of("aa", "a", "a</w>"), TOKENIZER.tokenize("aaaa"));
        // a single symbol only gets the end-of-word mark
        assertEquals(List.of("x</w>"), TOKENIZER.tokenize("x"));
    }

    @Test
    void lowercasesAndCleansWhitespace() {
        assertEquals(List.of("hello</w>", "cat</w>"), TOKENIZER.tokenize("  HeLLo\t\n\u00a0\u2003 CAT \u001f"));
        assertEquals(TOKENIZER.encode("hello cat"), TOKENIZER.encode("\tHELLO    cat\n"));
        assertEquals(List.of(), TOKENIZER.tokenize(" \n\t "));
    }

    @Test
    void splitsWordsLikeClipsPattern() {
        // letters runs, one token per digit, punctuation runs, contractions, special tokens kept whole
        assertEquals(List.of("cat</w>", ",</w>", "hello</w>", "!", "!</w>"), TOKENIZER.tokenize("cat, hello!!"));
        assertEquals(List.of("4</w>", "2</w>", "cat</w>"), TOKENIZER.tokenize("42cat"));
        assertEquals(List.of("cat</w>", "'", "s</w>"), TOKENIZER.tokenize("Cat's"));
        assertEquals(List.of("cat</w>", ClipTokenizer.EOS_TOKEN, "cat</w>"), TOKENIZER.tokenize("cat<|endoftext|>cat"));
    }

    @Test
    void unknownCharactersFallBackToByteTokens() {
        // é = C3 A9 in UTF-8: the bytes map to the symbols 'Ã' and '©'; "ca" still merges
        assertEquals(List.of("ca", "f", "\u00c3", "\u00a9</w>"), TOKENIZER.tokenize("Café"));
        // 🙂 = F0 9F 99 82: 'ð', then 0x9F, 0x99, 0x82 remapped to U+0141, U+013B, U+0124
        assertEquals(List.of("\u00f0", "\u0141", "\u013b", "\u0124</w>"), TOKENIZER.tokenize("\ud83d\ude42"));
        int[] ids = TOKENIZER.encode("\ud83d\ude42").ids();
        for (int i = 1; i <= 4; i++) {
            assertTrue(ids[i] < 512, "byte-level id expected, got " + ids[i]);
        }
        // a token missing from the vocabulary becomes the unknown token "<|endoftext|>"
        Map<String, Integer> partial = new LinkedHashMap<>(VOCAB);
        partial.remove("wer</w>");
        ClipTokenizer t = ClipTokenizer.of(partial, MERGES, ClipTokenizer.EOS_TOKEN);
        assertEquals(VOCAB.get(ClipTokenizer.EOS_TOKEN), t.encode("newer").ids()[2]);
    }

    @Test
    void encodeAddsBosEosAndPadsTo77() {
        TokenizedPrompt p = TOKENIZER.encode("A cat");
        int bos = VOCAB.get(ClipTokenizer.BOS_TOKEN);
        int eos = VOCAB.get(ClipTokenizer.EOS_TOKEN);
        assertEquals(77, TOKENIZER.maxLength());
        assertEquals(bos, TOKENIZER.bosId());
        assertEquals(eos, TOKENIZER.eosId());
        assertEquals(eos, TOKENIZER.padId());
        int[] expected = new int[77];
        Arrays.fill(expected, eos);
        expected[0] = bos;
        expected[1] = 320; // a</w>
        expected[2] = VOCAB.get("cat</w>");
        assertArrayEquals(expected, p.ids());
        assertEquals(4, p.length());
        assertFalse(p.truncated());
        assertEquals(0, p.droppedTokens());
        assertEquals("a cat", p.keptText());
        // the empty prompt is BOS, EOS, padding
        TokenizedPrompt empty = TOKENIZER.encode("");
        assertEquals(2, empty.length());
        assertEquals(bos, empty.ids()[0]);
        assertEquals(eos, empty.ids()[1]);
        assertEquals("", empty.keptText());
    }

    @Test
    void padsWithTheConfiguredPadToken() {
        ClipTokenizer bang = ClipTokenizer.of(VOCAB, MERGES, "!");
        assertEquals(0, bang.padId());
        int[] ids = bang.encode("cat").ids();
        assertEquals(VOCAB.get(ClipTokenizer.EOS_TOKEN), ids[2]);
        assertEquals(0, ids[3]);
        assertEquals(0, ids[76]);
    }

    @Test
    void truncatesToSeventyFiveContentTokensAndSaysSo() {
        String exactly75 = "cat ".repeat(75);
        TokenizedPrompt fits = TOKENIZER.encode(exactly75);
        assertFalse(fits.truncated());
        assertEquals(77, fits.length());
        String longer = exactly75 + "hello newer";
        TokenizedPrompt p = TOKENIZER.encode(longer); // 75 + hello</w> + ne + wer</w> = 78 content tokens
        assertTrue(p.truncated());
        assertEquals(3, p.droppedTokens());
        assertEquals(77, p.length());
        assertEquals(VOCAB.get(ClipTokenizer.EOS_TOKEN), p.ids()[76]);
        assertEquals(VOCAB.get("cat</w>"), p.ids()[75]);
        assertEquals(exactly75.strip(), p.keptText());
        // the cut may fall inside a word: its first pieces are kept
        TokenizedPrompt mid = TOKENIZER.encode("cat ".repeat(74) + "newer");
        assertEquals(1, mid.droppedTokens());
        assertEquals(VOCAB.get("ne"), mid.ids()[75]);
        assertTrue(mid.keptText().endsWith("cat ne"), mid.keptText());
    }

    @Test
    void keptTextDecodesBytes() {
        assertEquals("café , hello !!", TOKENIZER.encode("Café, hello!!").keptText());
        assertEquals("\ud83d\ude42", TOKENIZER.encode("\ud83d\ude42").keptText());
    }

    @Test
    void loadsATokenizerFolder(@TempDir Path dir) throws Exception {
        StringBuilder json = new StringBuilder("{");
        for (Map.Entry<String, Integer> e : VOCAB.entrySet()) {
            if (json.length() > 1) {
                json.append(',');
            }
            json.append(new com.fasterxml.jackson.databind.ObjectMapper().writeValueAsString(e.getKey()))
                    .append(':')
                    .append(e.getValue());
        }
        json.append('}');
        Files.writeString(dir.resolve("vocab.json"), json);
        Files.writeString(dir.resolve("merges.txt"), "#version: 0.2\n" + String.join("\n", MERGES) + "\n");
        ClipTokenizer loaded = ClipTokenizer.load(dir);
        assertEquals(TOKENIZER.encode("Hello, newer cat!"), loaded.encode("Hello, newer cat!"));
        assertEquals(VOCAB.get(ClipTokenizer.EOS_TOKEN), loaded.padId());
        // SD2-style special_tokens_map.json pads with "!"
        Files.writeString(
                dir.resolve("special_tokens_map.json"),
                "{\"bos_token\": {\"content\": \"<|startoftext|>\"}, \"pad_token\": {\"content\": \"!\"}}");
        assertEquals(0, ClipTokenizer.load(dir).padId());
    }

    @Test
    void refusesBrokenInputsClearly(@TempDir Path dir) throws Exception {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.load(dir));
        assertTrue(e.getMessage().contains("vocab.json"), e.getMessage());
        Map<String, Integer> noBos = new LinkedHashMap<>(VOCAB);
        noBos.remove(ClipTokenizer.BOS_TOKEN);
        e = assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.of(noBos, MERGES, "<|endoftext|>"));
        assertTrue(e.getMessage().contains("<|startoftext|>"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.of(VOCAB, MERGES, "<pad>"));
        assertTrue(e.getMessage().contains("pad token \"<pad>\""), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ClipTokenizer.of(VOCAB, List.of("a b c"), "!"));
        assertTrue(e.getMessage().contains("merge 1"), e.getMessage());
    }

    @Test
    void tokenizedPromptIsImmutable() {
        TokenizedPrompt p = TOKENIZER.encode("cat");
        int[] ids = p.ids();
        ids[1] = -1;
        assertEquals(VOCAB.get("cat</w>"), p.ids()[1]);
        assertThrows(IllegalArgumentException.class, () -> new TokenizedPrompt(new int[77], 80, false, 0, ""));
        assertThrows(IllegalArgumentException.class, () -> new TokenizedPrompt(new int[77], 77, true, 0, ""));
    }

    /** Real CLIP ViT-L/14 ids, when a tokenizer folder is given (ANIMATEDIFF_CLIP_TOKENIZER_DIR). */
    @Test
    void realClipVocabulary() {
        String dir = System.getenv("ANIMATEDIFF_CLIP_TOKENIZER_DIR");
        assumeTrue(dir != null && Files.isDirectory(Path.of(dir)), "no CLIP tokenizer folder given");
        ClipTokenizer clip = ClipTokenizer.load(Path.of(dir));
        assertArrayEquals(
                new int[] {49406, 320, 1125, 539, 320, 2368, 49407},
                Arrays.copyOf(clip.encode("a photo of a cat").ids(), 7));
        assertEquals(49407, clip.padId());
    }
}
