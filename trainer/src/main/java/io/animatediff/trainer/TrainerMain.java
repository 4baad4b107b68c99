package io.animatediff.trainer;

import io.animatediff.common.store.ObjectStore;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The trainer process: {@code java -cp 'trainer/target/classes:trainer/target/lib/*'
 * io.animatediff.trainer.TrainerMain}. Settings from the environment ({@link TrainerConfig});
 * SIGTERM stops polling and leaves a running job uncommitted (the next trainer resumes it from its
 * last checkpoint).
 */
public final class TrainerMain {
    private static final Logger LOG = LoggerFactory.getLogger(TrainerMain.class);

    private TrainerMain() {}

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && (args[0].equals("--help") || args[0].equals("-h"))) {
            System.out.println("""
                    animatediff trainer: consumes animatediff.train (group trainers)
                    environment:
                      KAFKA_BOOTSTRAP_SERVERS            broker host:port (required)
                      ANIMATEDIFF_S3_ENDPOINT, ANIMATEDIFF_S3_ACCESS_KEY, ANIMATEDIFF_S3_SECRET_KEY, ANIMATEDIFF_S3_BUCKET
                      ANIMATEDIFF_TRAINER_ID             id in events (default trainer-<host>-<pid>)
                      ANIMATEDIFF_TRAINER_GROUP          consumer group (trainers)
                      ANIMATEDIFF_TRAINER_WORK_DIR       models and checkpoints being worked on
                      ANIMATEDIFF_TRAINER_VALIDATE_EVERY steps between validation GIFs (0 = none)
                      ANIMATEDIFF_KAFKA_PARTITIONS       partitions of topics it creates (6)""");
            return;
        }
        if (System.getenv("DJL_OFFLINE") == null && System.getProperty("ai.djl.offline") == null) {
            System.setProperty("ai.djl.offline", "true");
        }
        if (System.getProperty("org.slf4j.simpleLogger.log.org.apache.kafka") == null) {
            System.setProperty("org.slf4j.simpleLogger.log.org.apache.kafka", "warn");
        }
        TrainerConfig config = TrainerConfig.fromEnvironment(System.getenv());
        Trainer trainer = Trainer.start(config, new ObjectStore(config.store()), true);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                trainer.close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                stopped.countDown();
            }
        }));
        LOG.info("trainer {} consuming animatediff.train (group {})", config.trainerId(), config.groupId());
        System.out.println("trainer ready: " + config.trainerId());
        while (trainer.isRunning()) {
            Thread.sleep(500);
        }
        stopped.await();
    }
}
