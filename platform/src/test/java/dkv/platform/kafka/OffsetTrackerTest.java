package dkv.platform.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class OffsetTrackerTest {
    @Test
    void commitsUpToTheFirstUnacknowledgedOffset() {
        OffsetTracker tracker = new OffsetTracker();
        assertTrue(tracker.committable().isEmpty());
        for (long offset = 10; offset < 15; offset++) {
            tracker.register(offset);
        }
        assertEquals(OptionalLong.of(10), tracker.committable(), "nothing acked: the first outstanding offset");
        tracker.acknowledge(12);
        tracker.acknowledge(10);
        assertEquals(OptionalLong.of(11), tracker.committable());
        tracker.committed(11);
        assertTrue(tracker.committable().isEmpty(), "no change since the last commit");
        tracker.acknowledge(11);
        assertEquals(OptionalLong.of(13), tracker.committable());
        tracker.acknowledge(13);
        tracker.acknowledge(14);
        assertEquals(OptionalLong.of(15), tracker.committable(), "all acked: one past the last");
        assertEquals(0, tracker.outstandingCount());
    }

    @Test
    void offsetsGoingBackwardsAreABug() {
        OffsetTracker tracker = new OffsetTracker();
        tracker.register(5);
        assertThrows(IllegalStateException.class, () -> tracker.register(4));
    }
}
