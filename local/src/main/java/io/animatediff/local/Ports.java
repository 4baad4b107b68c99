package io.animatediff.local;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;

/** Free TCP ports on the loopback interface. */
public final class Ports {
    /** The address every local component binds to. */
    public static final String LOOPBACK = "127.0.0.1";

    private Ports() {}

    /** A port nobody listens on right now (the OS picks it; it is free again once this returns). */
    public static int free() {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getByName(LOOPBACK))) {
            s.setReuseAddress(true);
            return s.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot find a free port on " + LOOPBACK + ": " + e.getMessage(), e);
        }
    }
}
