package io.animatediff.local;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * One component of the local fleet running as a child process, its stdout and stderr appended to
 * its own log file. {@link #close()} asks it to stop (SIGTERM), waits a grace period, then kills it
 * and every process it started.
 */
public final class ChildProcess implements AutoCloseable {
    /** How long a component may take to stop after SIGTERM before it is killed. */
    public static final Duration STOP_GRACE = Duration.ofSeconds(20);

    private final String name;
    private final Path log;
    private final Process process;

    private ChildProcess(String name, Path log, Process process) {
        this.name = name;
        this.log = log;
        this.process = process;
    }

    /**
     * Starts {@code command} in {@code workDir} with {@code env} added to this process's
     * environment; output goes to {@code log} (truncated first).
     */
    public static ChildProcess start(String name, List<String> command, Map<String, String> env, Path workDir, Path log)
            throws ComponentException {
        try {
            Files.createDirectories(log.toAbsolutePath().getParent());
            Files.createDirectories(workDir);
            Files.writeString(log, "$ " + String.join(" ", command) + System.lineSeparator());
        } catch (IOException e) {
            throw new ComponentException(name, "cannot create its log " + log + ": " + e.getMessage(), null);
        }
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(workDir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .redirectInput(ProcessBuilder.Redirect.PIPE);
        pb.environment().putAll(env);
        try {
            return new ChildProcess(name, log, pb.start());
        } catch (IOException e) {
            throw new ComponentException(name, "cannot start `" + command.get(0) + "`: " + e.getMessage(), log);
        }
    }

    /** Runs a short command to completion (e.g. formatting storage); fails unless it exits 0 in time. */
    public static void runToCompletion(
            String name, List<String> command, Map<String, String> env, Path workDir, Path log, Duration timeout)
            throws ComponentException {
        try (ChildProcess p = start(name, command, env, workDir, log)) {
            boolean exited;
            try {
                exited = p.process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ComponentException(name, "interrupted", log);
            }
            if (!exited) {
                throw new ComponentException(name, "did not finish within " + timeout.toSeconds() + " s", log);
            }
            if (p.process.exitValue() != 0) {
                throw new ComponentException(name, "exited with status " + p.process.exitValue(), log);
            }
        }
    }

    public String name() {
        return name;
    }

    public Path log() {
        return log;
    }

    public long pid() {
        return process.pid();
    }

    public ProcessHandle handle() {
        return process.toHandle();
    }

    public boolean isAlive() {
        return process.isAlive();
    }

    /** Fails with the log tail when the process has exited (used while waiting for readiness). */
    public void checkAlive() throws ComponentException {
        if (!process.isAlive()) {
            throw new ComponentException(name, "exited with status " + process.exitValue() + " while starting", log);
        }
    }

    /** SIGTERM, {@link #STOP_GRACE}, then SIGKILL; the same for any process it left behind. */
    @Override
    public void close() {
        stop(STOP_GRACE);
    }

    /** Stops the process: SIGTERM, {@code grace}, SIGKILL; its descendants likewise. */
    public void stop(Duration grace) {
        List<ProcessHandle> descendants = requestStop();
        awaitStop(grace, descendants);
    }

    /** Sends SIGTERM; returns the descendants seen before, for {@link #awaitStop}. */
    public List<ProcessHandle> requestStop() {
        List<ProcessHandle> descendants = new ArrayList<>(process.descendants().toList());
        process.destroy();
        return descendants;
    }

    /** Waits up to {@code grace} for the exit, then SIGKILLs the process and what is left of {@code descendants}. */
    public void awaitStop(Duration grace, List<ProcessHandle> descendants) {
        try {
            if (!process.waitFor(grace.toMillis(), TimeUnit.MILLISECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
        for (ProcessHandle d : descendants) {
            if (d.isAlive()) {
                d.destroyForcibly();
            }
        }
    }

    /** The last {@code lines} lines of a log file ("" when it cannot be read). */
    public static String tail(Path log, int lines) {
        if (log == null || !Files.isRegularFile(log)) {
            return "";
        }
        try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
            long len = f.length();
            long start = Math.max(0, len - 64 * 1024);
            byte[] buf = new byte[(int) (len - start)];
            f.seek(start);
            f.readFully(buf);
            String[] all = new String(buf, StandardCharsets.UTF_8).split("\\R");
            int from = Math.max(0, all.length - lines);
            return String.join(System.lineSeparator(), java.util.Arrays.copyOfRange(all, from, all.length));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    @Override
    public String toString() {
        return name + " (pid " + process.pid() + ", log " + log + ")";
    }
}
