package io.animatediff.engine.world;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The miniature world's trained models shipped inside the engine jar ({@value #RESOURCE_ROOT}):
 * {@code base/} and {@code personalized/} (diffusers folders), {@code motion.safetensors} (official
 * layout) and {@code lora.safetensors} (PEFT layout), as {@link MiniWorldRecipe} trained them.
 * {@value #INDEX} lists each file with its size and sha256; {@link #extract} copies them to a folder
 * and checks every byte, {@link #ship} writes a trained set into the resource folder.
 */
public final class WorldModels {
    /** Classpath folder of the shipped files. */
    public static final String RESOURCE_ROOT = "/io/animatediff/engine/world/models/";
    /** The index: one line per file, {@code <sha256> <size> <relative path>}. */
    public static final String INDEX = "INDEX";
    /** The evaluation table of the shipped set, as {@code evaluate --json} prints it. */
    public static final String TABLE = "table.jsonl";

    /** Registered names (local mode, worker): base and personalized image models, motion module, LoRA. */
    public static final String BASE = "world-base";

    public static final String PERSONALIZED = "world-personalized";
    public static final String MOTION = "world-motion";
    public static final String LORA = "world-lora";

    /** The frame side the models were trained at, and F. */
    public static final int SIZE = 64;

    public static final int FRAMES = 8;

    private WorldModels() {}

    /** One shipped file. */
    public record Entry(String sha256, long size, String path) {}

    /** Whether this build carries the trained models. */
    public static boolean available() {
        return WorldModels.class.getResource(RESOURCE_ROOT + INDEX) != null;
    }

    /** The shipped files. */
    public static List<Entry> index() {
        try (InputStream in = open(INDEX);
                BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            List<Entry> out = new ArrayList<>();
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                if (line.isBlank()) {
                    continue;
                }
                String[] f = line.split(" ", 3);
                out.add(new Entry(f[0], Long.parseLong(f[1]), f[2]));
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Copies the shipped set into {@code dir} (files already there with the right sha256 are kept)
     * and returns it. Every copied file's sha256 is checked against the index.
     */
    public static MiniWorldSet extract(Path dir) throws IOException {
        for (Entry e : index()) {
            Path target = dir.resolve(e.path());
            if (Files.isRegularFile(target)
                    && Files.size(target) == e.size()
                    && sha256(target).equals(e.sha256())) {
                continue;
            }
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), ".extract", ".part");
            try (InputStream in = open(e.path())) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                String got = sha256(tmp);
                if (!got.equals(e.sha256())) {
                    throw new IOException("shipped world model file " + e.path() + " has sha256 " + got
                            + ", its index says " + e.sha256() + ": the engine jar is damaged, rebuild it");
                }
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return new MiniWorldSet(dir);
    }

    /**
     * Writes the trained set {@code set} (base, personalized, motion, LoRA; the work folder is left
     * out) and its table into {@code resources} (the engine's resource folder for
     * {@value #RESOURCE_ROOT}), with the index.
     */
    public static void ship(MiniWorldSet set, List<WorldMetrics.Row> table, Path resources) throws IOException {
        MiniWorldRecipe.deleteRecursively(resources);
        Files.createDirectories(resources);
        StringBuilder index = new StringBuilder();
        List<Path> sources = new ArrayList<>();
        for (Path folder : List.of(set.base(), set.personalized())) {
            try (Stream<Path> walk = Files.walk(folder)) {
                walk.filter(Files::isRegularFile).sorted().forEach(sources::add);
            }
        }
        sources.add(set.motion());
        sources.add(set.lora());
        for (Path f : sources) {
            String rel = set.root().relativize(f).toString().replace('\\', '/');
            Path target = resources.resolve(rel);
            Files.createDirectories(target.getParent());
            Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
            index.append(sha256(f))
                    .append(' ')
                    .append(Files.size(f))
                    .append(' ')
                    .append(rel)
                    .append('\n');
        }
        Files.writeString(resources.resolve(INDEX), index.toString());
        StringBuilder rows = new StringBuilder();
        table.forEach(r -> rows.append(r.json()).append('\n'));
        Files.writeString(resources.resolve(TABLE), rows.toString());
    }

    /** The shipped set's evaluation table (JSON lines). */
    public static String table() throws IOException {
        try (InputStream in = open(TABLE)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    private static InputStream open(String path) throws IOException {
        InputStream in = WorldModels.class.getResourceAsStream(RESOURCE_ROOT + path);
        if (in == null) {
            throw new IOException("this build carries no trained miniature-world models (" + RESOURCE_ROOT + path
                    + " missing): run `./animatediff reproduce --ship` or use the seeded `builtin` model");
        }
        return in;
    }

    static String sha256(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int n = in.read(buf); n > 0; n = in.read(buf)) {
                md.update(buf, 0, n);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
