package io.animatediff.engine.training;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Optional;
import java.util.ServiceLoader;

/**
 * Opens a dataset named on a command line: a local folder, or a URI whose scheme a {@link Provider}
 * on the classpath handles (the trainer module provides {@code s3://}; the engine itself knows only
 * folders, so it needs no object-store client).
 */
public final class DatasetSources {
    private DatasetSources() {}

    /** Opens datasets of one URI scheme; registered in {@code META-INF/services}. */
    public interface Provider {
        /** The scheme handled, lower case, without "://" (e.g. "s3"). */
        String scheme();

        /** Opens the dataset at {@code uri}. */
        DatasetSource open(String uri);
    }

    /** A folder path, or {@code scheme://...} for a provider on the classpath. */
    public static DatasetSource open(String location) {
        int sep = location.indexOf("://");
        if (sep <= 0) {
            return new FolderDatasetSource(Path.of(location));
        }
        String scheme = location.substring(0, sep).toLowerCase(Locale.ROOT);
        Optional<Provider> p = ServiceLoader.load(Provider.class).stream()
                .map(ServiceLoader.Provider::get)
                .filter(x -> x.scheme().equals(scheme))
                .findFirst();
        return p.orElseThrow(() -> new IllegalArgumentException("dataset '" + location + "': no reader for "
                        + scheme + ":// on the classpath: pass a local folder, or run ./animatediff (whose classpath"
                        + " includes the trainer module's s3:// reader)"))
                .open(location);
    }
}
