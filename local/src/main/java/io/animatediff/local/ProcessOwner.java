package io.animatediff.local;

/**
 * Takes ownership of a child process the moment it is spawned, so that a shutdown during a
 * component's startup wait still stops it.
 */
@FunctionalInterface
public interface ProcessOwner {
    /** Records {@code process}; throws (after stopping it) when the owner is already shutting down. */
    void adopt(ChildProcess process) throws ComponentException;

    /** An owner that records nothing: the caller stops the processes itself. */
    ProcessOwner NONE = process -> {};
}
