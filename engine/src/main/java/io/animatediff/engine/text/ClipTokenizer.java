package io.animatediff.engine.text;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ports transformers' slow CLIPTokenizer (models/clip/tokenization_clip.py): byte-level BPE over
 * words found by CLIP's regex, each word ending in {@code </w>}, BOS/EOS around at most 75 content
 * tokens, padded to 77. Text clean-up is the reference's without ftfy: whitespace runs collapsed to
 * one space, stripped, lowercased (ftfy's mojibake repair is not applied). Thread-safe.
 */
public final class ClipTokenizer {
    /** CLIP's context length S: BOS + 75 content tokens + EOS. */
    public static final int MAX_LENGTH = 77;

    public static final String BOS_TOKEN = "<|startoftext|>";
    public static final String EOS_TOKEN = "<|endoftext|>";
    private static final String END_OF_WORD = "</w>";
    /** The reference keeps merges.txt lines [1, 49152 - 256 - 2] (after the version header). */
    private static final int MAX_MERGES = 49152 - 256 - 2;

    private static final int CACHE_SIZE = 8192;

    /** Python's \s (str.isspace): Unicode White_Space plus the separators U+001C..U+001F. */
    private static final String PY_SPACE = "\\p{IsWhite_Space}\\x{1C}-\\x{1F}";

    private static final Pattern WHITESPACE = Pattern.compile("[" + PY_SPACE + "]+");
    private static final Pattern WORDS = Pattern.compile(
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^" + PY_SPACE
                    + "\\p{L}\\p{N}]+",
            Pattern.CASE_INSENSITIVE | Pattern.UNICODE_CASE);

    private static final char[] BYTE_ENCODER = bytesToUnicode();
    private static final Map<Character, Integer> BYTE_DECODER = byteDecoder();

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Map<String, Integer> vocab;
    private final Map<String, Integer> bpeRanks; // "first second" -> rank
    private final int bosId;
    private final int eosId;
    private final int padId;
    private final int unkId;
    private final Map<String, String> cache = Collections.synchronizedMap(new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
            return size() > CACHE_SIZE;
        }
    });

    private ClipTokenizer(Map<String, Integer> vocab, List<String> merges, String padToken, String where) {
        this.vocab = Map.copyOf(vocab);
        Map<String, Integer> ranks = new HashMap<>();
        for (int i = 0; i < merges.size(); i++) {
            String[] pair = merges.get(i).trim().split("\\s+");
            if (pair.length != 2) {
                throw new IllegalArgumentException(where + ": merge " + (i + 1) + " \"" + merges.get(i)
                        + "\" must be two space-separated symbols");
            }
            ranks.put(pair[0] + " " + pair[1], i); // a repeated merge keeps its last rank, like the reference's dict
        }
        this.bpeRanks = Map.copyOf(ranks);
        this.bosId = requireToken(BOS_TOKEN, "BOS", where);
        this.eosId = requireToken(EOS_TOKEN, "EOS", where);
        this.unkId = eosId; // the reference's unk_token is "<|endoftext|>"
        this.padId = requireToken(padToken, "pad", where);
    }

    private int requireToken(String token, String role, String where) {
        Integer id = vocab.get(token);
        if (id == null) {
            throw new IllegalArgumentException(where + ": the vocabulary lacks the " + role + " token \"" + token
                    + "\"; a CLIP vocab.json holds \"<|startoftext|>\" and \"<|endoftext|>\"");
        }
        return id;
    }

    /**
     * Builds a tokenizer from a vocabulary and merges ("first second", best first, no version header).
     */
    public static ClipTokenizer of(Map<String, Integer> vocab, List<String> merges, String padToken) {
        return new ClipTokenizer(vocab, merges, padToken, "CLIP tokenizer");
    }

    /**
     * Loads a diffusers/transformers {@code tokenizer/} folder: vocab.json and merges.txt, and the pad
     * token from special_tokens_map.json or tokenizer_config.json when present (SD1.5 pads with
     * "<|endoftext|>", the default).
     */
    public static ClipTokenizer load(Path tokenizerDir) {
        Path vocabFile = tokenizerDir.resolve("vocab.json");
        Path mergesFile = tokenizerDir.resolve("merges.txt");
        Map<String, Integer> vocab;
        try {
            vocab = JSON.readValue(vocabFile.toFile(), new TypeReference<LinkedHashMap<String, Integer>>() {});
        } catch (IOException e) {
            throw new IllegalArgumentException(
                    "cannot read CLIP vocabulary " + vocabFile + " (a JSON object token -> id): " + e.getMessage(), e);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(mergesFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read CLIP merges " + mergesFile + ": " + e.getMessage(), e);
        }
        int from = !lines.isEmpty() && lines.get(0).startsWith("#version") ? 1 : 0;
        int to = lines.size();
        while (to > from && lines.get(to - 1).isBlank()) {
            to--;
        }
        List<String> merges = lines.subList(from, Math.min(to, from + MAX_MERGES));
        String padToken = EOS_TOKEN;
        for (String name : List.of("special_tokens_map.json", "tokenizer_config.json")) {
            Path file = tokenizerDir.resolve(name);
            if (Files.isRegularFile(file)) {
                String pad = readPadToken(file);
                if (pad != null) {
                    padToken = pad;
                    break;
                }
            }
        }
        return new ClipTokenizer(vocab, merges, padToken, tokenizerDir.toString());
    }

    /** pad_token as a string or as {"content": ...}; null when absent. */
    private static String readPadToken(Path file) {
        JsonNode root;
        try {
            root = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read " + file + ": " + e.getMessage(), e);
        }
        JsonNode pad = root == null ? null : root.get("pad_token");
        if (pad == null || pad.isNull()) {
            return null;
        }
        if (pad.isTextual()) {
            return pad.asText();
        }
        if (pad.isObject() && pad.path("content").isTextual()) {
            return pad.get("content").asText();
        }
        throw new IllegalArgumentException(file + ": pad_token must be a string or {\"content\": string}, got " + pad);
    }

    /** Encodes a prompt: BOS, the first 75 content tokens, EOS, padded to {@link #MAX_LENGTH}. */
    public TokenizedPrompt encode(String prompt) {
        List<String> tokens = tokenize(prompt);
        int room = MAX_LENGTH - 2;
        int kept = Math.min(tokens.size(), room);
        int[] ids = new int[MAX_LENGTH];
        ids[0] = bosId;
        for (int i = 0; i < kept; i++) {
            ids[i + 1] = vocab.getOrDefault(tokens.get(i), unkId);
        }
        ids[kept + 1] = eosId;
        for (int i = kept + 2; i < MAX_LENGTH; i++) {
            ids[i] = padId;
        }
        int dropped = tokens.size() - kept;
        return new TokenizedPrompt(ids, kept + 2, dropped > 0, dropped, decode(tokens.subList(0, kept)));
    }

    /** The BPE tokens of a text (no BOS/EOS), e.g. ["a</w>", "photo</w>"]. */
    public List<String> tokenize(String text) {
        String cleaned = WHITESPACE.matcher(text).replaceAll(" ").strip().toLowerCase(Locale.ROOT);
        List<String> tokens = new ArrayList<>();
        Matcher m = WORDS.matcher(cleaned);
        while (m.find()) {
            byte[] utf8 = m.group().getBytes(StandardCharsets.UTF_8);
            StringBuilder word = new StringBuilder(utf8.length);
            for (byte b : utf8) {
                word.append(BYTE_ENCODER[b & 0xFF]);
            }
            for (String piece : bpe(word.toString()).split(" ")) {
                tokens.add(piece);
            }
        }
        return tokens;
    }

    /** The reference's bpe(): merge the lowest-ranked adjacent pair until none is in the merges. */
    private String bpe(String token) {
        if (token.equals(BOS_TOKEN) || token.equals(EOS_TOKEN)) {
            return token;
        }
        String cached = cache.get(token);
        if (cached != null) {
            return cached;
        }
        List<String> word = new ArrayList<>(token.length());
        for (int i = 0; i < token.length() - 1; i++) {
            word.add(String.valueOf(token.charAt(i)));
        }
        word.add(token.charAt(token.length() - 1) + END_OF_WORD);
        while (word.size() > 1) {
            // 1. the adjacent pair of lowest rank
            int bestRank = Integer.MAX_VALUE;
            String first = null;
            String second = null;
            for (int i = 0; i < word.size() - 1; i++) {
                Integer rank = bpeRanks.get(word.get(i) + " " + word.get(i + 1));
                if (rank != null && rank < bestRank) {
                    bestRank = rank;
                    first = word.get(i);
                    second = word.get(i + 1);
                }
            }
            if (first == null) {
                break;
            }
            // 2. merge every non-overlapping occurrence, left to right
            List<String> merged = new ArrayList<>(word.size());
            int i = 0;
            while (i < word.size()) {
                if (i < word.size() - 1
                        && word.get(i).equals(first)
                        && word.get(i + 1).equals(second)) {
                    merged.add(first + second);
                    i += 2;
                } else {
                    merged.add(word.get(i));
                    i++;
                }
            }
            word = merged;
        }
        String result = String.join(" ", word);
        cache.put(token, result);
        return result;
    }

    /** The reference's convert_tokens_to_string: byte-decode, "</w>" -> " ", strip. */
    static String decode(List<String> tokens) {
        String joined = String.join("", tokens);
        ByteBuffer bytes = ByteBuffer.allocate(joined.length() * 4);
        for (int i = 0; i < joined.length(); i++) {
            Integer b = BYTE_DECODER.get(joined.charAt(i));
            if (b != null) {
                bytes.put((byte) (int) b);
            } else {
                bytes.put(String.valueOf(joined.charAt(i)).getBytes(StandardCharsets.UTF_8));
            }
        }
        bytes.flip();
        String text;
        try {
            text = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPLACE)
                    .onUnmappableCharacter(CodingErrorAction.REPLACE)
                    .decode(bytes)
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("UTF-8 decoding with replacement cannot fail", e);
        }
        return text.replace(END_OF_WORD, " ").strip();
    }

    /**
     * GPT-2/CLIP bytes_to_unicode: printable Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') map to
     * themselves, the other 68 bytes to U+0100 onwards in byte order, so every byte is a visible char.
     */
    static char[] bytesToUnicode() {
        char[] map = new char[256];
        boolean[] printable = new boolean[256];
        for (int b = 0; b < 256; b++) {
            printable[b] = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        }
        int n = 0;
        for (int b = 0; b < 256; b++) {
            map[b] = printable[b] ? (char) b : (char) (256 + n++);
        }
        return map;
    }

    private static Map<Character, Integer> byteDecoder() {
        Map<Character, Integer> decoder = new HashMap<>();
        for (int b = 0; b < 256; b++) {
            decoder.put(BYTE_ENCODER[b], b);
        }
        return Map.copyOf(decoder);
    }

    public int maxLength() {
        return MAX_LENGTH;
    }

    public int bosId() {
        return bosId;
    }

    public int eosId() {
        return eosId;
    }

    public int padId() {
        return padId;
    }
}
