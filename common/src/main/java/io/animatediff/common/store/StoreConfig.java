package io.animatediff.common.store;

import java.net.URI;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Where the fleet's objects live. Read with {@link #fromEnvironment()} from system properties
 * ({@code animatediff.s3.endpoint}, ...) or, when a property is absent, environment variables
 * ({@code ANIMATEDIFF_S3_ENDPOINT}, ...).
 *
 * @param endpoint {@code http(s)://host:port} of the S3-protocol server
 * @param accessKey access key id
 * @param secretKey secret key (never printed)
 * @param bucket the fleet's bucket (default {@code animatediff})
 * @param region signing region (default {@code us-east-1}; MinIO and S3Proxy accept it)
 */
public record StoreConfig(String endpoint, String accessKey, String secretKey, String bucket, String region) {
    public static final String ENV_ENDPOINT = "ANIMATEDIFF_S3_ENDPOINT";
    public static final String ENV_ACCESS_KEY = "ANIMATEDIFF_S3_ACCESS_KEY";
    public static final String ENV_SECRET_KEY = "ANIMATEDIFF_S3_SECRET_KEY";
    public static final String ENV_BUCKET = "ANIMATEDIFF_S3_BUCKET";
    public static final String ENV_REGION = "ANIMATEDIFF_S3_REGION";
    public static final String DEFAULT_BUCKET = "animatediff";
    public static final String DEFAULT_REGION = "us-east-1";

    private static final Pattern BUCKET = Pattern.compile("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]");

    public StoreConfig {
        require(endpoint, "endpoint", ENV_ENDPOINT);
        require(accessKey, "accessKey", ENV_ACCESS_KEY);
        require(secretKey, "secretKey", ENV_SECRET_KEY);
        require(bucket, "bucket", ENV_BUCKET);
        require(region, "region", ENV_REGION);
        URI uri;
        try {
            uri = URI.create(endpoint);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(
                    "S3 endpoint '" + endpoint + "' is not a URI: set " + ENV_ENDPOINT + " to http(s)://host:port", e);
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
            throw new IllegalArgumentException("S3 endpoint '" + endpoint + "' is not http(s)://host[:port]: set "
                    + ENV_ENDPOINT + " accordingly");
        }
        if (!BUCKET.matcher(bucket).matches()) {
            throw new IllegalArgumentException("S3 bucket '" + bucket
                    + "' is not a valid bucket name: use 3-63 characters of a-z, 0-9, '.', '-' (" + ENV_BUCKET + ")");
        }
    }

    /** Reads system properties first, then environment variables, then the defaults. */
    public static StoreConfig fromEnvironment() {
        return from(System::getProperty, System::getenv);
    }

    /**
     * Reads the configuration from two lookups: {@code properties} by names like {@code
     * animatediff.s3.endpoint}, then {@code environment} by names like {@code
     * ANIMATEDIFF_S3_ENDPOINT}.
     */
    public static StoreConfig from(Function<String, String> properties, Function<String, String> environment) {
        Function<String, String> lookup = env -> {
            String value = properties.apply(propertyName(env));
            return value != null && !value.isBlank() ? value : environment.apply(env);
        };
        String bucket = lookup.apply(ENV_BUCKET);
        String region = lookup.apply(ENV_REGION);
        return new StoreConfig(
                lookup.apply(ENV_ENDPOINT),
                lookup.apply(ENV_ACCESS_KEY),
                lookup.apply(ENV_SECRET_KEY),
                bucket == null || bucket.isBlank() ? DEFAULT_BUCKET : bucket,
                region == null || region.isBlank() ? DEFAULT_REGION : region);
    }

    /** The system property name for an environment variable name, e.g. {@code animatediff.s3.access-key}. */
    public static String propertyName(String envName) {
        return envName.toLowerCase(java.util.Locale.ROOT)
                .replace("animatediff_s3_", "animatediff.s3.")
                .replace('_', '-');
    }

    /** The same store with another bucket. */
    public StoreConfig withBucket(String otherBucket) {
        return new StoreConfig(endpoint, accessKey, secretKey, otherBucket, region);
    }

    private static void require(String value, String name, String env) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException("S3 " + name + " is not configured: set " + env + " (or system property "
                    + propertyName(env) + ")");
        }
    }

    @Override
    public String toString() {
        return "StoreConfig[endpoint=" + endpoint + ", accessKey=" + accessKey + ", secretKey=***, bucket=" + bucket
                + ", region=" + region + "]";
    }
}
