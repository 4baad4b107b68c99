package io.animatediff.worker;

import io.animatediff.common.registry.ModelFile;
import io.animatediff.common.registry.ModelManifest;
import io.animatediff.common.registry.ModelRegistry;
import io.animatediff.common.store.ChecksumMismatchException;
import io.animatediff.common.store.Sha256;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Comparator;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;

/**
 * Registered models on local disk, content-addressed:
 *
 * <pre>
 * &lt;cacheDir&gt;/blobs/&lt;sha256&gt;                               every file once, verified
 * &lt;cacheDir&gt;/models/&lt;kind&gt;/&lt;name&gt;-&lt;content id&gt;/&lt;path&gt;   the manifest's folder layout (hard links to blobs)
 * </pre>
 *
 * A blob is downloaded to a temporary file, its sha256 checked, then moved into place atomically;
 * a model folder is assembled in a temporary folder and renamed into place, so a folder that exists
 * is complete. The content id hashes the manifest's format and (path, sha256, size) list, so a
 * model re-registered under the same name with other files gets a new folder. Blobs found on disk
 * from an earlier run are re-hashed once per process before first use. Several workers may share
 * the folder: every step is an atomic rename and the loser of a race discards its copy.
 *
 * <p>Budget ({@value #ENV_MAX_BYTES}, bytes of blobs; 0 = unlimited): after a download pushes the
 * blobs over it, model folders are evicted least recently used first (a folder's modification time
 * is its last use), then every blob no folder links any more. The {@value #PINNED} folders used most
 * recently by this process are never evicted, so the models of the job being prepared (base, motion
 * module, LoRAs) stay on disk until it has loaded them. Budgets assume hard links (on a file system
 * without them, folders hold copies that the budget does not count).
 */
public final class ModelDiskCache {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(ModelDiskCache.class);
    private final Path root;
    private final ModelRegistry registry;
    private final WorkerMetrics metrics;
    private final Set<String> verified = ConcurrentHashMap.newKeySet();
    /** Environment variable of the disk budget in bytes (0 or unset: unlimited). */
    public static final String ENV_MAX_BYTES = "ANIMATEDIFF_DISK_CACHE_BYTES";
    /** Most recently used folders that eviction never touches: one job's models fit. */
    static final int PINNED = 24;

    private final long maxBytes;
    private final int pinned;
    private final Deque<Path> recent = new ArrayDeque<>();

    public ModelDiskCache(Path root, ModelRegistry registry, WorkerMetrics metrics) {
        this(root, registry, metrics, 0);
    }

    /** {@code maxBytes}: budget of the blobs, 0 = unlimited. */
    public ModelDiskCache(Path root, ModelRegistry registry, WorkerMetrics metrics, long maxBytes) {
        this(root, registry, metrics, maxBytes, PINNED);
    }

    ModelDiskCache(Path root, ModelRegistry registry, WorkerMetrics metrics, long maxBytes, int pinned) {
        if (maxBytes < 0) {
            throw new IllegalArgumentException(ENV_MAX_BYTES + " must be >= 0 bytes (0 = unlimited), got " + maxBytes);
        }
        this.root = root.toAbsolutePath();
        this.registry = Objects.requireNonNull(registry, "registry");
        this.metrics = Objects.requireNonNull(metrics, "metrics");
        this.maxBytes = maxBytes;
        this.pinned = pinned;
    }

    /** The budget from {@value #ENV_MAX_BYTES}: a plain number of bytes; unset or blank = unlimited. */
    public static long budgetFrom(Map<String, String> env) {
        String v = env.get(ENV_MAX_BYTES);
        if (v == null || v.isBlank()) {
            return 0;
        }
        try {
            long b = Long.parseLong(v.trim());
            if (b < 0) {
                throw new NumberFormatException("negative");
            }
            return b;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(ENV_MAX_BYTES + "='" + v
                    + "' is not a number of bytes >= 0: e.g. 53687091200 for 50 GiB," + " 0 or unset for no limit");
        }
    }

    public Path root() {
        return root;
    }

    /** The content id of a manifest: 16 hex digits of sha256 over format and files. */
    public static String contentId(ModelManifest m) {
        StringBuilder sb = new StringBuilder(m.format().json()).append('\n');
        m.files().stream()
                .sorted(Comparator.comparing(ModelFile::path))
                .forEach(f -> sb.append(f.path())
                        .append('\t')
                        .append(f.sha256())
                        .append('\t')
                        .append(f.size())
                        .append('\n'));
        return Sha256.hex(sb.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 16);
    }

    /** The folder holding the model's files with their manifest paths, downloading what is missing. */
    public Path materialize(ModelManifest m) {
        Path dir = root.resolve("models").resolve(m.kind().json()).resolve(m.name() + "-" + contentId(m));
        try {
            if (Files.isDirectory(dir) && intact(m, dir)) {
                m.files().forEach(f -> metrics.diskCacheHit());
                used(dir);
                return dir;
            }
            deleteTree(dir);
            Path tmp = dir.resolveSibling("." + dir.getFileName() + "." + UUID.randomUUID() + ".part");
            try {
                for (ModelFile f : m.files()) {
                    Path target = tmp.resolve(f.path());
                    Files.createDirectories(target.getParent());
                    link(blob(m, f), target);
                }
                try {
                    Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
                } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                    // another worker sharing the cache finished first: its folder has the same content
                }
            } finally {
                deleteTree(tmp);
            }
            used(dir);
            evictOverBudget();
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(
                    "cannot assemble " + m.kind() + " model '" + m.name() + "' in the disk cache " + dir + ": "
                            + e.getMessage() + ": check free space and permissions of "
                            + WorkerConfig.ENV_CACHE_DIR,
                    e);
        }
    }

    /** Marks a folder as just used: its modification time, and the pinned list. */
    private synchronized void used(Path dir) throws IOException {
        Files.setLastModifiedTime(dir, FileTime.from(Instant.now()));
        recent.remove(dir);
        recent.addFirst(dir);
        while (recent.size() > pinned) {
            recent.removeLast();
        }
    }

    /** Bytes of the blobs on disk. */
    public long blobBytes() throws IOException {
        Path blobs = root.resolve("blobs");
        if (!Files.isDirectory(blobs)) {
            return 0;
        }
        long total = 0;
        try (Stream<Path> list = Files.list(blobs)) {
            for (Path b : list.filter(Files::isRegularFile).toList()) {
                total += Files.size(b);
            }
        }
        return total;
    }

    /**
     * Evicts least recently used, unpinned model folders while the blobs exceed the budget; returns
     * the bytes freed.
     */
    synchronized long evictOverBudget() throws IOException {
        if (maxBytes == 0 || blobBytes() <= maxBytes) {
            return 0;
        }
        Path models = root.resolve("models");
        List<Path> folders;
        try (Stream<Path> walk = Files.walk(models, 2)) {
            folders = walk.filter(p -> models.relativize(p).getNameCount() == 2)
                    .filter(Files::isDirectory)
                    .filter(p -> !p.getFileName().toString().startsWith("."))
                    .filter(p -> !recent.contains(p))
                    .sorted(Comparator.comparing(ModelDiskCache::lastUse))
                    .toList();
        }
        long freed = 0;
        for (Path folder : folders) {
            if (blobBytes() <= maxBytes) {
                break;
            }
            deleteTree(folder);
            long bytes = deleteUnlinkedBlobs();
            freed += bytes;
            metrics.diskCacheEviction(bytes);
        }
        if (blobBytes() > maxBytes) {
            LOG.warn(
                    "disk cache {} holds {} bytes of models in use, over its budget {} ({}): raise the budget",
                    root,
                    blobBytes(),
                    maxBytes,
                    ENV_MAX_BYTES);
        }
        return freed;
    }

    /** Deletes blobs that no model folder links any more (link count 1); returns their bytes. */
    private long deleteUnlinkedBlobs() throws IOException {
        long freed = 0;
        try (Stream<Path> list = Files.list(root.resolve("blobs"))) {
            for (Path b : list.filter(Files::isRegularFile).toList()) {
                Object links = Files.getAttribute(b, "unix:nlink");
                if (links instanceof Integer n && n == 1) {
                    long size = Files.size(b);
                    Files.deleteIfExists(b);
                    verified.remove(b.getFileName().toString());
                    freed += size;
                }
            }
        }
        return freed;
    }

    private static FileTime lastUse(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }

    /** Where a blob lives. */
    Path blobPath(String sha256) {
        return root.resolve("blobs").resolve(sha256);
    }

    private Path blob(ModelManifest m, ModelFile f) throws IOException {
        Path blob = blobPath(f.sha256());
        if (Files.isRegularFile(blob) && Files.size(blob) == f.size()) {
            if (verified.contains(f.sha256()) || Sha256.hex(blob).equals(f.sha256())) {
                verified.add(f.sha256());
                metrics.diskCacheHit();
                return blob;
            }
        }
        Files.createDirectories(blob.getParent());
        // downloads to a temporary file, checks the sha256, renames atomically; throws on a mismatch
        registry.download(m, f, blob);
        if (Files.size(blob) != f.size()) {
            Files.deleteIfExists(blob);
            throw new ChecksumMismatchException(
                    "file '" + f.path() + "' of " + m.kind() + " model '" + m.name() + "' has the manifest's sha256"
                            + " but " + f.size() + " bytes were declared: the manifest is wrong; register the model"
                            + " again",
                    registry.store().bucket(),
                    ModelRegistry.fileKey(m.kind(), m.name(), f.path()),
                    registry.store().config().endpoint(),
                    f.sha256(),
                    f.sha256());
        }
        verified.add(f.sha256());
        metrics.diskCacheMiss(f.size());
        return blob;
    }

    /** Sizes always; sha256 once per process (a folder from an earlier run may have been altered). */
    private boolean intact(ModelManifest m, Path dir) throws IOException {
        for (ModelFile f : m.files()) {
            Path p = dir.resolve(f.path());
            if (!Files.isRegularFile(p) || Files.size(p) != f.size()) {
                return false;
            }
        }
        for (ModelFile f : m.files()) {
            if (!verified.contains(f.sha256())) {
                if (!Sha256.hex(dir.resolve(f.path())).equals(f.sha256())) {
                    return false;
                }
                verified.add(f.sha256());
            }
        }
        return true;
    }

    private static void link(Path blob, Path target) throws IOException {
        try {
            Files.createLink(target, blob);
        } catch (UnsupportedOperationException | IOException e) {
            if (e instanceof FileAlreadyExistsException) {
                throw (FileAlreadyExistsException) e;
            }
            // another file system or no hard links: a copy costs space, not correctness
            Path part = target.resolveSibling(target.getFileName() + ".part");
            Files.copy(blob, part, StandardCopyOption.REPLACE_EXISTING);
            try {
                Files.move(part, target, StandardCopyOption.ATOMIC_MOVE);
            } catch (AtomicMoveNotSupportedException ex) {
                Files.move(part, target, StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
