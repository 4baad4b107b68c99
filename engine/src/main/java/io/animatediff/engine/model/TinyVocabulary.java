package io.animatediff.engine.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A small but real CLIP BPE vocabulary, laid out like openai/clip-vit-large-patch14's: the 256
 * byte symbols, the same with {@code </w>}, one token per merge, then {@code <|startoftext|>} and
 * {@code <|endoftext|>}. Merges spell out a list of words letter by letter, so those words become
 * single tokens and anything else falls back to byte symbols, exactly as the full tokenizer does.
 */
public final class TinyVocabulary {
    /** Words of the built-in world's prompts. */
    public static final List<String> WORDS = List.of(
            "a",
            "an",
            "the",
            "red",
            "green",
            "blue",
            "yellow",
            "white",
            "black",
            "purple",
            "orange",
            "circle",
            "square",
            "triangle",
            "ball",
            "box",
            "star",
            "moving",
            "left",
            "right",
            "up",
            "down",
            "still",
            "standing",
            "on",
            "in",
            "of",
            "and",
            "with",
            "background",
            "plain",
            "textured",
            "world",
            "style",
            "cat",
            "dog",
            "sea",
            "sky",
            "beach",
            "sunset",
            "waves",
            "photo",
            "animation",
            "high",
            "quality",
            "best");

    private final Map<String, Integer> vocab;
    private final List<String> merges;

    private TinyVocabulary(Map<String, Integer> vocab, List<String> merges) {
        this.vocab = vocab;
        this.merges = merges;
    }

    public Map<String, Integer> vocab() {
        return vocab;
    }

    /** Merge rules "a b", in rank order (without the "#version" header line). */
    public List<String> merges() {
        return merges;
    }

    public int size() {
        return vocab.size();
    }

    public static TinyVocabulary build() {
        List<String> symbols = byteSymbols();
        Map<String, Integer> vocab = new LinkedHashMap<>();
        for (String s : symbols) {
            vocab.put(s, vocab.size());
        }
        for (String s : symbols) {
            vocab.put(s + "</w>", vocab.size());
        }
        Set<String> merges = new LinkedHashSet<>();
        for (String word : WORDS) {
            // CLIP BPE starts from characters with </w> on the last one and merges left to right
            List<String> parts = new ArrayList<>();
            for (int i = 0; i < word.length(); i++) {
                parts.add(word.substring(i, i + 1) + (i == word.length() - 1 ? "</w>" : ""));
            }
            String acc = parts.get(0);
            for (int i = 1; i < parts.size(); i++) {
                String merged = acc + parts.get(i);
                if (merges.add(acc + " " + parts.get(i))) {
                    vocab.putIfAbsent(merged, vocab.size());
                }
                acc = merged;
            }
        }
        vocab.put("<|startoftext|>", vocab.size());
        vocab.put("<|endoftext|>", vocab.size());
        return new TinyVocabulary(vocab, new ArrayList<>(merges));
    }

    /** GPT-2/CLIP bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
    static List<String> byteSymbols() {
        List<Integer> bs = new ArrayList<>();
        for (int b = '!'; b <= '~'; b++) {
            bs.add(b);
        }
        for (int b = 0xA1; b <= 0xAC; b++) {
            bs.add(b);
        }
        for (int b = 0xAE; b <= 0xFF; b++) {
            bs.add(b);
        }
        List<Integer> cs = new ArrayList<>(bs);
        int n = 0;
        for (int b = 0; b < 256; b++) {
            if (!bs.contains(b)) {
                bs.add(b);
                cs.add(256 + n);
                n++;
            }
        }
        List<String> out = new ArrayList<>();
        for (int c : cs) {
            out.add(new String(Character.toChars(c)));
        }
        return out;
    }
}
