package io.animatediff.trainer;

import io.animatediff.common.store.StoreConfig;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * The trainer process's settings.
 *
 * @param bootstrapServers Kafka bootstrap servers ({@code KAFKA_BOOTSTRAP_SERVERS})
 * @param store the fleet's object store ({@code ANIMATEDIFF_S3_*})
 * @param trainerId this process's id in events ({@code ANIMATEDIFF_TRAINER_ID}, default trainer-host-pid)
 * @param groupId consumer group ({@code ANIMATEDIFF_TRAINER_GROUP}, default {@code trainers})
 * @param workDir models, checkpoints and clips being worked on ({@code ANIMATEDIFF_TRAINER_WORK_DIR})
 * @param partitions partitions of the topics this process creates when absent
 * @param progressInterval least time between two PROGRESS events (the last step is always sent)
 * @param pollTimeout Kafka poll timeout
 * @param maxPollInterval {@code max.poll.interval.ms}: bounds the gap between polls, not a job
 * @param validateEvery steps between validation GIFs (0 = none)
 * @param latentCacheClips clip samples whose VAE latent distribution a job keeps in memory after
 *     encoding it once ({@code ANIMATEDIFF_TRAINER_LATENT_CACHE}, default 0 = encode every step):
 *     pays for small datasets trained for many epochs; F x 8 x (S/8)^2 floats per clip
 */
public record TrainerConfig(
        String bootstrapServers,
        StoreConfig store,
        String trainerId,
        String groupId,
        Path workDir,
        int partitions,
        Duration progressInterval,
        Duration pollTimeout,
        Duration maxPollInterval,
        int validateEvery,
        int latentCacheClips) {
    /** Consumer group of the trainers. */
    public static final String GROUP = "trainers";

    public TrainerConfig {
        if (bootstrapServers == null || bootstrapServers.isBlank()) {
            throw new IllegalArgumentException("KAFKA_BOOTSTRAP_SERVERS is not set: pass host:port of a broker");
        }
        if (validateEvery < 0) {
            throw new IllegalArgumentException("validateEvery " + validateEvery + " must be >= 0");
        }
        if (latentCacheClips < 0) {
            throw new IllegalArgumentException("ANIMATEDIFF_TRAINER_LATENT_CACHE " + latentCacheClips
                    + " must be >= 0 (clips whose latents a job keeps; 0 = none)");
        }
    }

    /** Defaults for a broker and a store: group trainers, work dir under java.io.tmpdir. */
    public static TrainerConfig defaults(String bootstrapServers, StoreConfig store, Path workDir) {
        return new TrainerConfig(
                bootstrapServers,
                store,
                "trainer-" + ManagementFactory.getRuntimeMXBean().getName().replace('@', '-'),
                GROUP,
                workDir,
                6,
                Duration.ofMillis(250),
                Duration.ofMillis(200),
                Duration.ofMinutes(5),
                0,
                0);
    }

    /** From the environment (see the record's parameters for the variable names). */
    public static TrainerConfig fromEnvironment(Map<String, String> env) {
        TrainerConfig c = defaults(
                env.get("KAFKA_BOOTSTRAP_SERVERS"),
                StoreConfig.fromEnvironment(),
                Path.of(env.getOrDefault(
                        "ANIMATEDIFF_TRAINER_WORK_DIR",
                        Path.of(System.getProperty("java.io.tmpdir"), "animatediff-trainer")
                                .toString())));
        return new TrainerConfig(
                c.bootstrapServers(),
                c.store(),
                env.getOrDefault("ANIMATEDIFF_TRAINER_ID", c.trainerId()),
                env.getOrDefault("ANIMATEDIFF_TRAINER_GROUP", c.groupId()),
                c.workDir(),
                Integer.parseInt(env.getOrDefault("ANIMATEDIFF_KAFKA_PARTITIONS", "6")),
                c.progressInterval(),
                c.pollTimeout(),
                c.maxPollInterval(),
                Integer.parseInt(env.getOrDefault("ANIMATEDIFF_TRAINER_VALIDATE_EVERY", "0")),
                Integer.parseInt(env.getOrDefault("ANIMATEDIFF_TRAINER_LATENT_CACHE", "0")));
    }

    /** The same settings with another id and work folder (tests, several trainers per JVM). */
    public TrainerConfig withIdAndWorkDir(String id, Path dir) {
        return new TrainerConfig(
                bootstrapServers,
                store,
                id,
                groupId,
                dir,
                partitions,
                progressInterval,
                pollTimeout,
                maxPollInterval,
                validateEvery,
                latentCacheClips);
    }

    /** The same settings in another consumer group. */
    public TrainerConfig withGroup(String group) {
        return new TrainerConfig(
                bootstrapServers,
                store,
                trainerId,
                group,
                workDir,
                partitions,
                progressInterval,
                pollTimeout,
                maxPollInterval,
                validateEvery,
                latentCacheClips);
    }

    /** The same settings with validation GIFs every n steps (and at the end). */
    public TrainerConfig withValidateEvery(int n) {
        return new TrainerConfig(
                bootstrapServers,
                store,
                trainerId,
                groupId,
                workDir,
                partitions,
                progressInterval,
                pollTimeout,
                maxPollInterval,
                n,
                latentCacheClips);
    }
}
