package io.animatediff.gateway;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/** Gateway settings under {@code animatediff.*} (environment: {@code ANIMATEDIFF_*}). */
@ConfigMapping(prefix = "animatediff")
public interface GatewayConfig {

    /**
     * Lower-case hex sha256 of every accepted API key, comma separated ({@code
     * ANIMATEDIFF_API_KEY_HASHES}); keys are never stored in clear. Empty: every request is 401.
     */
    Optional<List<String>> apiKeyHashes();

    /** Per-key request rate limit. */
    RateLimit rateLimit();

    /** Per-key queue quota (jobs QUEUED or RUNNING). */
    QueueQuotaSettings queueQuota();

    /** Kafka topics the gateway creates at startup. */
    TopicSettings topics();

    /** The job state view folded from the job-events topic. */
    StateView stateView();

    /** Request validation. */
    Validation validation();

    /** Object storage (S3 protocol). */
    S3 s3();

    /** Model uploads. */
    Models models();

    /** Webhooks ({@code ANIMATEDIFF_WEBHOOK_*}, see {@link WebhookSettings}). */
    Webhook webhook();

    /** A token bucket per API key. */
    interface RateLimit {
        /** Sustained requests per second per key. */
        @WithDefault("50")
        double rate();

        /** Requests a key may send at once after being idle (bucket size). */
        @WithDefault("100")
        int burst();
    }

    /** At most so many jobs QUEUED or RUNNING per API key; more submissions get 429. */
    interface QueueQuotaSettings {
        /** Most jobs (generations and trainings) one key may have queued or running. */
        @WithDefault("100")
        int maxActiveJobsPerKey();

        /** {@code Retry-After} of a refusal. */
        @WithDefault("PT30S")
        Duration retryAfter();
    }

    /** Topic creation at startup ({@code AdminClient.createTopics}, existing topics are kept). */
    interface TopicSettings {
        /** Whether to create missing topics at startup. */
        @WithDefault("true")
        boolean create();

        /** Partitions of each created topic. */
        @WithDefault("6")
        int partitions();

        /** Replication factor of each created topic (1 for a single local broker). */
        @WithDefault("1")
        short replicationFactor();
    }

    /** The state view consumer. */
    interface StateView {
        /** Longest wait of one poll of the job-events topic. */
        @WithDefault("PT0.2S")
        Duration pollTimeout();

        /** How often the lag gauge and the partition list are refreshed. */
        @WithDefault("PT2S")
        Duration refreshInterval();

        /** A poll failing for longer than this makes the gateway not ready. */
        @WithDefault("PT15S")
        Duration unreachableAfter();
    }

    /** Generation request validation. */
    interface Validation {
        /** How long "model X exists" and a motion module's frame limit are cached. */
        @WithDefault("PT10S")
        Duration modelCacheTtl();

        /** Frame limit of a motion module whose manifest has no {@code max_frames} (v2/v3: 32). */
        @WithDefault("32")
        int defaultMaxFrames();

        /** Time allowed for publishing one job to Kafka before answering 503. */
        @WithDefault("PT10S")
        Duration publishTimeout();

        /** Validity of presigned result URLs in job views. */
        @WithDefault("PT1H")
        Duration resultUrlExpiry();
    }

    /** S3 endpoint and bucket ({@code ANIMATEDIFF_S3_*}). */
    interface S3 {
        /** {@code http(s)://host:port} of the S3-protocol server. */
        String endpoint();

        /** Access key id. */
        String accessKey();

        /** Secret key. */
        String secretKey();

        /** The fleet's bucket. */
        @WithDefault("animatediff")
        String bucket();

        /** Signing region. */
        @WithDefault("us-east-1")
        String region();

        /** Create the bucket at startup when missing. */
        @WithDefault("true")
        boolean createBucket();
    }

    /** Model uploads. */
    interface Models {
        /** Validity of presigned PUT URLs handed out for multi-file uploads. */
        @WithDefault("PT1H")
        Duration uploadUrlExpiry();

        /**
         * Most models registered in the fleet (all kinds together); a new upload beyond it gets 409
         * before a byte is stored.
         */
        @WithDefault("1000")
        int maxModels();

        /**
         * Most models one API key may have registered (all kinds together); a new upload beyond it
         * gets 409 before a byte is stored. Models registered without an owner (built-in, trained,
         * operator tools) count for nobody.
         */
        @WithDefault("100")
        int maxModelsPerKey();

        /**
         * Largest model file in bytes (default 10 GiB, above a full fp32 SD 1.5 checkpoint): a
         * larger streamed upload gets 413 before a byte is stored; a larger presigned upload gets
         * 413 at finalize and is deleted.
         */
        @WithDefault("10737418240")
        long maxFileBytes();
    }

    /** Webhook delivery: the allow-list of callback URL prefixes, the signing secret, retries. */
    interface Webhook {
        /** Comma-separated URL prefixes a job's {@code Callback-Url} must start with; empty: none allowed. */
        Optional<String> allowedUrls();

        /** HMAC-SHA256 signing key, required when any URL is allowed. */
        Optional<String> secret();

        /** Delivery attempts per event before giving up. */
        @WithDefault("8")
        int maxAttempts();

        /** First retry delay in milliseconds, doubled per attempt up to 60 s. */
        @WithDefault("500")
        long backoffMs();
    }
}
