package io.animatediff.engine.world;

import io.animatediff.engine.config.AutoencoderKLConfig;
import io.animatediff.engine.config.MotionModuleConfig;
import io.animatediff.engine.config.UNet2DConditionConfig;
import io.animatediff.engine.model.LoraSpec;
import io.animatediff.engine.model.TinyModels;
import io.animatediff.engine.ops.IntraOpThreads;
import io.animatediff.engine.training.AutoencoderTrainer;
import io.animatediff.engine.training.FolderDatasetSource;
import io.animatediff.engine.training.ImageModelTrainer;
import io.animatediff.engine.training.MotionTrainer;
import io.animatediff.engine.training.StepReport;
import io.animatediff.engine.training.TrainingCheckpoint;
import io.animatediff.engine.training.TrainingConfig;
import io.animatediff.engine.training.TrainingListener;
import io.animatediff.engine.training.TrainingResult;
import io.animatediff.engine.world.MiniWorld.Domain;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.stream.Stream;

/**
 * The paper's experiment in the miniature world, from scratch, with the engine's own trainers:
 *
 * <ol>
 *   <li>a VAE on stills of both domains (the image codec every model of the family shares, as SD's
 *       VAE was trained on a broad image set: it never sees video);
 *   <li>the base text-to-image UNet on stills of the base domain (the text encoder is the seeded tiny
 *       CLIP, frozen and never trained);
 *   <li>personalization on stills of the personalized domain: a full fine-tune of a copy of the base
 *       UNet (DreamBooth-like) and, separately, a LoRA on the base;
 *   <li>a motion module on videos of the base domain only, everything else frozen
 *       ({@link MotionTrainer});
 *   <li>the evaluation table ({@link WorldEvaluation}), the motion module inserted untouched into
 *       the personalized models.
 * </ol>
 *
 * Everything is seeded; {@link MiniWorldSet} names the files written.
 */
public final class MiniWorldRecipe {
    private MiniWorldRecipe() {}

    /**
     * The sizes of one run.
     *
     * @param size frame side in pixels (latents are size / 8)
     * @param frames F per clip
     * @param vaeSteps VAE optimizer steps
     * @param vaeBatch stills per VAE step
     * @param vaeLr VAE learning rate
     * @param baseSteps base UNet steps
     * @param imageBatch stills per UNet step
     * @param baseLr base UNet learning rate
     * @param personalizedSteps full fine-tune steps
     * @param personalizedLr full fine-tune learning rate
     * @param loraSteps LoRA steps
     * @param loraRank LoRA rank
     * @param loraLr LoRA learning rate
     * @param pool stills encoded per image run
     * @param videoClips base-domain clips written for motion training
     * @param motionSteps motion-module steps
     * @param motionBatch clips per motion step
     * @param motionLr motion-module learning rate
     * @param evalClips scenes per evaluation row
     * @param evalSteps DDIM steps per evaluation clip
     * @param guidance guidance scale of evaluation clips
     * @param seed every draw of the run
     * @param backdrops the base domain's backdrops: the grey world (the shipped models') or the broad one
     */
    public record Plan(
            int size,
            int frames,
            int vaeSteps,
            int vaeBatch,
            double vaeLr,
            int baseSteps,
            int imageBatch,
            double baseLr,
            int personalizedSteps,
            double personalizedLr,
            int loraSteps,
            int loraRank,
            double loraLr,
            int pool,
            int videoClips,
            int motionSteps,
            int motionBatch,
            double motionLr,
            int evalClips,
            int evalSteps,
            double guidance,
            long seed,
            MiniWorld.Backdrops backdrops) {

        public Plan {
            if (size < 8 || size % 8 != 0) {
                throw new IllegalArgumentException("plan: size " + size + " must be a positive multiple of 8");
            }
            int[] counts = {
                frames,
                vaeSteps,
                vaeBatch,
                baseSteps,
                imageBatch,
                personalizedSteps,
                loraSteps,
                loraRank,
                pool,
                videoClips,
                motionSteps,
                motionBatch,
                evalSteps
            };
            String[] names = {
                "frames",
                "vaeSteps",
                "vaeBatch",
                "baseSteps",
                "imageBatch",
                "personalizedSteps",
                "loraSteps",
                "loraRank",
                "pool",
                "videoClips (reproduce --video-clips)",
                "motionSteps (reproduce --motion-steps)",
                "motionBatch",
                "evalSteps"
            };
            for (int i = 0; i < counts.length; i++) {
                if (counts[i] < 1) {
                    throw new IllegalArgumentException("plan: " + names[i] + " is " + counts[i] + ": give at least 1");
                }
            }
            if (evalClips < 1 || evalClips > 60) {
                throw new IllegalArgumentException("plan: evalClips (reproduce --eval-clips) is " + evalClips
                        + ": give 1..60 (the world has 60 scenes)");
            }
            if (!(vaeLr > 0 && baseLr > 0 && personalizedLr > 0 && loraLr > 0 && motionLr > 0)) {
                throw new IllegalArgumentException(
                        "plan: every learning rate must be > 0 (motion: " + motionLr + ", reproduce --motion-lr)");
            }
            if (!(guidance >= 1)) {
                throw new IllegalArgumentException("plan: guidance " + guidance + " must be >= 1");
            }
            if (backdrops == null) {
                throw new IllegalArgumentException("plan: no backdrops: give GREY or BROAD");
            }
        }

        /**
         * The run behind the shipped models. The motion module trains 12,000 steps: its accuracy was
         * still rising at 3,000 (base 52%, personalized 30%), 6,000 (78%, 48%) and 9,000 (88%, 58%).
         */
        public static Plan full() {
            return new Builder().build();
        }

        /**
         * CI's motion check: a motion module trained briefly on the shipped base, frozen
         * ({@code ReproduceReducedTest}).
         */
        public static Plan ciMotion() {
            return new Builder()
                    .vae(1, 1, 2e-3)
                    .base(1, 1, 1e-3)
                    .personalized(1, 2e-4)
                    .lora(1, 4, 2e-3)
                    .pool(1)
                    .videoClips(200)
                    .motion(300, 4, 1e-3)
                    .evaluation(20, 12, 4.0)
                    .seed(77)
                    .build();
        }

        /** A reduced run for CI: every stage, few steps. */
        public static Plan quick() {
            return new Builder()
                    .vae(40, 8, 2e-3)
                    .base(60, 32, 1e-3)
                    .personalized(20, 2e-4)
                    .lora(20, 4, 2e-3)
                    .pool(256)
                    .videoClips(20)
                    .motion(60, 4, 1e-3)
                    .evaluation(5, 10, 4.0)
                    .build();
        }

        /** A builder holding this plan's values. */
        public Builder toBuilder() {
            return new Builder(this);
        }

        /** This plan with the motion stage's steps, learning rate and the evaluation's clips replaced where not null. */
        public Plan withMotion(Integer steps, Double lr, Integer clips) {
            Builder b = toBuilder();
            b.motionSteps = steps == null ? motionSteps : steps;
            b.motionLr = lr == null ? motionLr : lr;
            b.evalClips = clips == null ? evalClips : clips;
            return b.build();
        }

        /** This plan in the world whose base domain has {@code world}'s backdrops. */
        public Plan withBackdrops(MiniWorld.Backdrops world) {
            return toBuilder().backdrops(world).build();
        }

        /** Named steps for a plan; starts from {@link #full()}'s values. */
        public static final class Builder {
            private int size = 64;
            private int frames = 8;
            private int vaeSteps = 1500;
            private int vaeBatch = 16;
            private double vaeLr = 2e-3;
            private int baseSteps = 3000;
            private int imageBatch = 64;
            private double baseLr = 1e-3;
            private int personalizedSteps = 1500;
            private double personalizedLr = 2e-4;
            private int loraSteps = 1500;
            private int loraRank = 8;
            private double loraLr = 2e-3;
            private int pool = 4096;
            private int videoClips = 600;
            private int motionSteps = 12000;
            private int motionBatch = 8;
            private double motionLr = 1e-3;
            private int evalClips = 60;
            private int evalSteps = 25;
            private double guidance = 4.0;
            private long seed = 2024;
            private MiniWorld.Backdrops backdrops = MiniWorld.Backdrops.GREY;

            public Builder() {}

            private Builder(Plan p) {
                size = p.size;
                frames = p.frames;
                vaeSteps = p.vaeSteps;
                vaeBatch = p.vaeBatch;
                vaeLr = p.vaeLr;
                baseSteps = p.baseSteps;
                imageBatch = p.imageBatch;
                baseLr = p.baseLr;
                personalizedSteps = p.personalizedSteps;
                personalizedLr = p.personalizedLr;
                loraSteps = p.loraSteps;
                loraRank = p.loraRank;
                loraLr = p.loraLr;
                pool = p.pool;
                videoClips = p.videoClips;
                motionSteps = p.motionSteps;
                motionBatch = p.motionBatch;
                motionLr = p.motionLr;
                evalClips = p.evalClips;
                evalSteps = p.evalSteps;
                guidance = p.guidance;
                seed = p.seed;
                backdrops = p.backdrops;
            }

            /** Frame side in pixels and frames per clip. */
            public Builder clip(int size, int frames) {
                this.size = size;
                this.frames = frames;
                return this;
            }

            public Builder vae(int steps, int batch, double lr) {
                vaeSteps = steps;
                vaeBatch = batch;
                vaeLr = lr;
                return this;
            }

            /** The base UNet's steps, stills per step (also the fine-tunes') and learning rate. */
            public Builder base(int steps, int batch, double lr) {
                baseSteps = steps;
                imageBatch = batch;
                baseLr = lr;
                return this;
            }

            public Builder personalized(int steps, double lr) {
                personalizedSteps = steps;
                personalizedLr = lr;
                return this;
            }

            public Builder lora(int steps, int rank, double lr) {
                loraSteps = steps;
                loraRank = rank;
                loraLr = lr;
                return this;
            }

            public Builder pool(int stills) {
                pool = stills;
                return this;
            }

            public Builder videoClips(int clips) {
                videoClips = clips;
                return this;
            }

            public Builder motion(int steps, int batch, double lr) {
                motionSteps = steps;
                motionBatch = batch;
                motionLr = lr;
                return this;
            }

            /** Scenes per evaluation row, DDIM steps per clip and guidance scale. */
            public Builder evaluation(int clips, int steps, double guidance) {
                evalClips = clips;
                evalSteps = steps;
                this.guidance = guidance;
                return this;
            }

            public Builder seed(long seed) {
                this.seed = seed;
                return this;
            }

            public Builder backdrops(MiniWorld.Backdrops backdrops) {
                this.backdrops = backdrops;
                return this;
            }

            public Plan build() {
                return new Plan(
                        size,
                        frames,
                        vaeSteps,
                        vaeBatch,
                        vaeLr,
                        baseSteps,
                        imageBatch,
                        baseLr,
                        personalizedSteps,
                        personalizedLr,
                        loraSteps,
                        loraRank,
                        loraLr,
                        pool,
                        videoClips,
                        motionSteps,
                        motionBatch,
                        motionLr,
                        evalClips,
                        evalSteps,
                        guidance,
                        seed,
                        backdrops);
            }
        }
    }

    /** Mean loss over the first and the last tenth of a stage's steps. */
    public record StageLoss(String stage, int steps, double first, double last, double seconds) {
        public boolean fell() {
            return last < first;
        }

        public String describe() {
            return String.format(
                    Locale.ROOT, "%-13s %5d steps  loss %.4f -> %.4f  %6.0f s", stage, steps, first, last, seconds);
        }
    }

    /** What a run produced. */
    public record Result(MiniWorldSet set, List<StageLoss> losses, List<WorldMetrics.Row> table) {}

    /** The UNet of the miniature world's models: (32, 64) channels as the engine's tiny config, 8x8 latents. */
    public static UNet2DConditionConfig unetConfig() {
        return UNet2DConditionConfig.tiny();
    }

    /** The VAE: the engine's tiny config (4 blocks, downscale 8, 4 latent channels). */
    public static AutoencoderKLConfig vaeConfig() {
        return AutoencoderKLConfig.tiny();
    }

    /** The motion module: the tiny config (8 heads, every level, 32 positions, no mid block). */
    public static MotionModuleConfig motionConfig() {
        return MotionModuleConfig.tiny(false)
                .withAttentionBlockTypes(List.of(MotionModuleConfig.TEMPORAL_SELF, MotionModuleConfig.TEMPORAL_CROSS));
    }

    /** Runs every stage into {@code out} (a fresh folder) and evaluates; {@code log} receives progress. */
    public static Result run(Path out, Plan plan, Consumer<String> log) throws IOException {
        MiniWorldSet set = new MiniWorldSet(out);
        List<StageLoss> losses = new ArrayList<>();
        Path work = out.resolve("work");
        long seed = plan.seed();

        // 1. VAE on stills of both domains
        AutoencoderKLConfig vaeCfg;
        Path vaeDir = work.resolve("vae");
        try (AutoencoderTrainer t = new AutoencoderTrainer(new AutoencoderTrainer.Config(
                vaeConfig(), plan.vaeSteps(), plan.vaeBatch(), plan.vaeLr(), 1e-4, 1.0, seed))) {
            WorldStills stills = new WorldStills(
                    List.of(Domain.BASE, Domain.PERSONALIZED), plan.backdrops(), plan.size(), plan.frames(), seed + 1);
            losses.add(stage("vae", plan.vaeSteps(), log, () -> t.step(stills).total()));
            vaeCfg = t.save(vaeDir, t.measureScalingFactor(stills, 256));
        }
        log.accept(String.format(Locale.ROOT, "vae: scaling factor %.4f", vaeCfg.scalingFactor()));

        // 2. base UNet on base-domain stills, from seeded initial weights
        TinyModels.writeBaseModel(set.base(), unetConfig(), vaeConfig(), seed + 2);
        replaceFolder(vaeDir, set.base().resolve("vae"));
        WorldStills baseStills =
                new WorldStills(List.of(Domain.BASE), plan.backdrops(), plan.size(), plan.frames(), seed + 3);
        try (ImageModelTrainer t = ImageModelTrainer.open(
                set.base(),
                new ImageModelTrainer.Config(
                        plan.baseSteps(), plan.imageBatch(), plan.baseLr(), 1e-2, 1.0, 0.1, 0, plan.pool(), seed + 4),
                baseStills,
                log)) {
            losses.add(stage("base", plan.baseSteps(), log, t::step));
            t.saveUnet(set.base().resolve("unet"));
        }

        // 3. personalization on personalized-domain stills: full fine-tune of a copy, and a LoRA
        losses.addAll(personalize(set, plan, log));

        // 4. motion module on base-domain videos, base frozen
        losses.add(trainMotion(set.base(), work, set.motion(), plan, log));
        losses.forEach(l -> log.accept(l.describe()));

        // 5. the table
        List<WorldMetrics.Row> table = evaluate(set, work.resolve("evaluation"), settings(plan), log);
        StringBuilder rows = new StringBuilder();
        table.forEach(row -> rows.append(row.json()).append('\n'));
        Files.writeString(out.resolve(WorldModels.TABLE), rows.toString());
        return new Result(set, losses, table);
    }

    /**
     * Personalization on personalized-domain stills, from {@code set}'s base: a full fine-tune of a
     * copy into {@code set.personalized()} (DreamBooth-like) and a LoRA into {@code set.lora()}.
     */
    public static List<StageLoss> personalize(MiniWorldSet set, Plan plan, Consumer<String> log) throws IOException {
        long seed = plan.seed();
        WorldStills styleStills = new WorldStills(List.of(Domain.PERSONALIZED), plan.size(), plan.frames(), seed + 5);
        replaceFolder(set.base(), set.personalized());
        // the two fine-tunes are independent: side by side on two threads, one intra-op thread each
        return sideBySide(List.of(
                () -> {
                    try (ImageModelTrainer t = ImageModelTrainer.open(
                            set.personalized(),
                            new ImageModelTrainer.Config(
                                    plan.personalizedSteps(),
                                    plan.imageBatch(),
                                    plan.personalizedLr(),
                                    1e-2,
                                    1.0,
                                    0.1,
                                    0,
                                    plan.pool(),
                                    seed + 6),
                            styleStills,
                            log)) {
                        StageLoss loss = stage("personalized", plan.personalizedSteps(), log, t::step);
                        t.saveUnet(set.personalized().resolve("unet"));
                        return loss;
                    }
                },
                () -> {
                    try (ImageModelTrainer t = ImageModelTrainer.open(
                            set.base(),
                            new ImageModelTrainer.Config(
                                    plan.loraSteps(),
                                    plan.imageBatch(),
                                    plan.loraLr(),
                                    0.0,
                                    1.0,
                                    0.1,
                                    plan.loraRank(),
                                    plan.pool(),
                                    seed + 7),
                            styleStills,
                            log)) {
                        StageLoss loss = stage("lora", plan.loraSteps(), log, t::step);
                        t.saveLora(set.lora());
                        return loss;
                    }
                }));
    }

    /**
     * Runs independent tasks on two threads with one intra-op thread each (the tiny models' ops
     * cannot use two cores, so two of them side by side can) and returns their results in order.
     */
    static <T> List<T> sideBySide(List<Callable<T>> tasks) throws IOException {
        ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
            Thread t = new Thread(r, "animatediff-world");
            t.setDaemon(true);
            return t;
        });
        try (IntraOpThreads one = IntraOpThreads.set(1)) {
            List<Future<T>> futures = new ArrayList<>();
            for (Callable<T> task : tasks) {
                futures.add(pool.submit(task));
            }
            List<T> out = new ArrayList<>();
            for (Future<T> f : futures) {
                try {
                    out.add(f.get());
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    futures.forEach(x -> x.cancel(true));
                    throw new IOException("interrupted", e);
                } catch (ExecutionException e) {
                    futures.forEach(x -> x.cancel(true));
                    if (e.getCause() instanceof IOException io) {
                        throw io;
                    }
                    if (e.getCause() instanceof RuntimeException re) {
                        throw re;
                    }
                    if (e.getCause() instanceof Error err) {
                        throw err;
                    }
                    throw new IOException(e.getCause());
                }
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    /**
     * Trains a fresh motion module on base-domain videos with the image model {@code base} frozen
     * ({@link MotionTrainer}) and writes it to {@code motionOut} (official layout).
     */
    public static StageLoss trainMotion(Path base, Path work, Path motionOut, Plan plan, Consumer<String> log)
            throws IOException {
        long seed = plan.seed();
        Path videos = work.resolve("base-videos");
        MiniWorld.writeDataset(
                videos, plan.videoClips(), plan.frames(), plan.size(), Domain.BASE, plan.backdrops(), seed + 8);
        // a step's clips as two micro-batches on two threads, one intra-op thread each (the tiny
        // model's ops cannot use two cores), and the frozen VAE's moments of every clip cached:
        // 600 clips seen 160 times each at 12,000 steps
        int micro = plan.motionBatch() % 2 == 0 ? 2 : 1;
        TrainingConfig motion = TrainingConfig.builder()
                .baseModel(base)
                .freshMotion(motionConfig())
                .outDir(work.resolve("motion-run"))
                .steps(plan.motionSteps())
                .batchSize(plan.motionBatch() / micro)
                .gradientAccumulation(micro)
                .microBatchThreads(micro)
                .latentCacheClips(plan.videoClips())
                .frames(plan.frames())
                .stride(1)
                .size(plan.size())
                .learningRate(plan.motionLr())
                .checkpointEvery(Math.max(1, plan.motionSteps() / 2))
                .seed(seed + 9)
                .randomFlip(false) // captions name left and right
                .build();
        List<Double> motionLosses = new ArrayList<>();
        long t0 = System.nanoTime();
        TrainingResult r;
        try (IntraOpThreads one = IntraOpThreads.set(micro == 2 ? 1 : IntraOpThreads.current());
                MotionTrainer t = MotionTrainer.open(motion, new FolderDatasetSource(videos), new TrainingListener() {
                    @Override
                    public void onStep(StepReport report) {
                        motionLosses.add(report.loss());
                        progress(log, "motion", report.step(), report.totalSteps(), motionLosses);
                    }

                    @Override
                    public void onMessage(String message) {
                        log.accept("motion: " + message);
                    }
                })) {
            r = t.train();
        }
        Files.createDirectories(motionOut.toAbsolutePath().getParent());
        Files.copy(
                r.checkpoint().resolve(TrainingCheckpoint.MOTION_MODULE),
                motionOut,
                StandardCopyOption.REPLACE_EXISTING);
        return summary("motion", motionLosses, (System.nanoTime() - t0) / 1e9);
    }

    /**
     * A set in {@code root} with the image models and LoRA of {@code trained} (linked, or copied where
     * links are not possible) and the motion module {@code motion}.
     */
    public static MiniWorldSet withMotion(MiniWorldSet trained, Path motion, Path root) throws IOException {
        MiniWorldSet out = new MiniWorldSet(root);
        replaceFolder(trained.base(), out.base());
        replaceFolder(trained.personalized(), out.personalized());
        Files.copy(trained.lora(), out.lora(), StandardCopyOption.REPLACE_EXISTING);
        Files.copy(motion, out.motion(), StandardCopyOption.REPLACE_EXISTING);
        return out;
    }

    /** Evaluation settings of a plan. */
    public static WorldEvaluation.Settings settings(Plan plan) {
        return new WorldEvaluation.Settings(
                plan.evalClips(),
                plan.frames(),
                plan.size(),
                plan.evalSteps(),
                plan.guidance(),
                plan.seed() + 100,
                plan.backdrops());
    }

    /**
     * The paper's rows for a model set: base + motion; personalized (full) + motion, the claim;
     * LoRA-personalized + motion; personalized without a motion module (the zeroed module: frames
     * independent); base with the motion module's output zeroed (= the base image model); and the
     * world's own clips of both domains through the shared VAE (the ceiling of colour and shape). GIFs go to
     * {@code gifs/<row>/} when {@code gifs} is not null.
     */
    public static List<WorldMetrics.Row> evaluate(
            MiniWorldSet set, Path gifs, WorldEvaluation.Settings settings, Consumer<String> log) throws IOException {
        Path zeroed = Files.createTempFile("animatediff-zeroed-motion", ".safetensors");
        try {
            WorldEvaluation.zeroedMotion(set.motion(), zeroed);
            List<WorldEvaluation.Setup> rows = List.of(
                    new WorldEvaluation.Setup("base + motion", set.base(), set.motion(), List.of()),
                    new WorldEvaluation.Setup("personalized + motion", set.personalized(), set.motion(), List.of()),
                    new WorldEvaluation.Setup(
                            "base + LoRA + motion", set.base(), set.motion(), List.of(new LoraSpec(set.lora(), 1.0))),
                    new WorldEvaluation.Setup("personalized, no motion", set.personalized(), zeroed, List.of()),
                    new WorldEvaluation.Setup("base, motion zeroed", set.base(), zeroed, List.of()));
            // rows side by side, two at a time (every clip's draws are seeded: the order changes nothing)
            List<Callable<WorldMetrics.Row>> tasks = new ArrayList<>();
            for (WorldEvaluation.Setup s : rows) {
                tasks.add(() -> {
                    long t0 = System.nanoTime();
                    WorldMetrics.Row row =
                            WorldEvaluation.evaluate(s, settings, gifs == null ? null : gifs.resolve(slug(s.name())));
                    log.accept(String.format(
                            Locale.ROOT,
                            "evaluated %-24s motion %5.1f%%  personalized %5.1f%%  (%.0f s)",
                            s.name(),
                            100 * row.motionAccuracy(),
                            100 * row.personalizedFrames(),
                            (System.nanoTime() - t0) / 1e9));
                    return row;
                });
            }
            for (Domain domain : Domain.values()) {
                tasks.add(() -> WorldEvaluation.vaeRoundTrip(
                        "world clips through the VAE, " + domain.name().toLowerCase(Locale.ROOT) + " domain",
                        set.base(),
                        domain,
                        settings));
            }
            return sideBySide(tasks);
        } finally {
            Files.deleteIfExists(zeroed);
        }
    }

    static String slug(String name) {
        return name.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "-").replaceAll("(^-|-$)", "");
    }

    private static StageLoss stage(String name, int steps, Consumer<String> log, DoubleSupplier step) {
        List<Double> values = new ArrayList<>(steps);
        long t0 = System.nanoTime();
        for (int i = 0; i < steps; i++) {
            values.add(step.getAsDouble());
            progress(log, name, i + 1, steps, values);
        }
        return summary(name, values, (System.nanoTime() - t0) / 1e9);
    }

    private static void progress(Consumer<String> log, String name, long step, long steps, List<Double> values) {
        long every = Math.max(1, steps / 10);
        if (step % every == 0 || step == steps) {
            int from = (int) Math.max(0, values.size() - every);
            double mean = values.subList(from, values.size()).stream()
                    .mapToDouble(Double::doubleValue)
                    .average()
                    .orElse(Double.NaN);
            log.accept(String.format(Locale.ROOT, "%s: step %d/%d loss %.4f", name, step, steps, mean));
        }
    }

    private static StageLoss summary(String name, List<Double> values, double seconds) {
        int tenth = Math.max(1, values.size() / 10);
        double first = values.subList(0, tenth).stream()
                .mapToDouble(Double::doubleValue)
                .average()
                .orElse(Double.NaN);
        double last = values.subList(values.size() - tenth, values.size()).stream()
                .mapToDouble(Double::doubleValue)
                .average()
                .orElse(Double.NaN);
        return new StageLoss(name, values.size(), first, last, seconds);
    }

    /** Replaces {@code target} by a copy of the folder {@code source}. */
    static void replaceFolder(Path source, Path target) throws IOException {
        deleteRecursively(target);
        try (Stream<Path> walk = Files.walk(source)) {
            for (Path p : walk.toList()) {
                Path t = target.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
