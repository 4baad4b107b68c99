package io.animatediff.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressThrottleTest {
    private static final long MS = 1_000_000;

    @Test
    void atMostOnePerIntervalAndAlwaysTheLastStep() {
        ProgressThrottle t = new ProgressThrottle(250 * MS, 0);
        List<Integer> sent = new ArrayList<>();
        // 20 steps of 60 ms each: 1.2 s in all
        for (int step = 1; step <= 20; step++) {
            if (t.shouldSend(step, 20, step * 60 * MS)) {
                sent.add(step);
            }
        }
        // 60 ms steps cross 250 ms at steps 5 (300), 10 (600), 15 (900), 20 is the last
        assertEquals(List.of(5, 10, 15, 20), sent);
    }

    @Test
    void slowStepsAreAllSent() {
        ProgressThrottle t = new ProgressThrottle(250 * MS, 0);
        for (int step = 1; step <= 5; step++) {
            assertEquals(true, t.shouldSend(step, 5, step * 300 * MS));
        }
    }

    @Test
    void zeroIntervalSendsEveryStep() {
        ProgressThrottle t = new ProgressThrottle(0, 0);
        for (int step = 1; step <= 3; step++) {
            assertEquals(true, t.shouldSend(step, 3, 0));
        }
    }
}
