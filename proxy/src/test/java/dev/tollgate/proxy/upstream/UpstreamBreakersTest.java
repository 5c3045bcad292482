package dev.tollgate.proxy.upstream;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.RoutingConfig;
import io.github.resilience4j.circuitbreaker.CircuitBreaker.State;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The breaker's transitions, on a clock the test moves: closed, open, half-open, and back. */
class UpstreamBreakersTest {
    /** A clock that moves only when told. */
    private static final class TestClock extends Clock {
        private Instant now = Instant.parse("2026-12-07T00:00:00Z");

        void advanceMs(long ms) {
            now = now.plusMillis(ms);
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public long millis() {
            return now.toEpochMilli();
        }
    }

    private final TestClock clock = new TestClock();

    private UpstreamBreakers breakers(int consecutive, int ratePercent, int window, int minimum) {
        return new UpstreamBreakers(List.of(), new RoutingConfig.Breaker(consecutive, ratePercent, window, minimum, 30_000, 2), clock);
    }

    @Test
    void consecutiveFailuresOpenItAndItProbesAfterTheOpenTime() {
        UpstreamBreakers breakers = breakers(3, 100, 100, 100);
        for (int i = 0; i < 2; i++) {
            breakers.tryAcquire("p").failed("upstream_status_503");
        }
        breakers.tryAcquire("p").succeeded(); // a success resets the run
        for (int i = 0; i < 2; i++) {
            breakers.tryAcquire("p").failed("upstream_status_503");
        }
        assertThat(breakers.state("p")).isEqualTo(State.CLOSED);
        breakers.tryAcquire("p").failed("upstream_connect_failed");
        assertThat(breakers.state("p")).isEqualTo(State.OPEN);
        assertThat(breakers.tryAcquire("p")).as("skipped while open").isNull();

        clock.advanceMs(30_000);
        assertThat(breakers.tryAcquire("p")).as("open for openMs, to the millisecond").isNull();
        clock.advanceMs(1);
        UpstreamBreakers.Permit first = breakers.tryAcquire("p");
        assertThat(first).as("the first probe after openMs").isNotNull();
        assertThat(breakers.state("p")).isEqualTo(State.HALF_OPEN);
        UpstreamBreakers.Permit second = breakers.tryAcquire("p");
        assertThat(second).isNotNull();
        assertThat(breakers.tryAcquire("p")).as("two probes at most").isNull();
        first.succeeded();
        second.succeeded();
        assertThat(breakers.state("p")).isEqualTo(State.CLOSED);
    }

    @Test
    void aFailedProbeOpensItAgainAndAnUnusedProbeIsGivenBack() {
        UpstreamBreakers breakers = breakers(1, 100, 100, 100);
        breakers.tryAcquire("p").failed("upstream_timeout");
        assertThat(breakers.state("p")).isEqualTo(State.OPEN);
        clock.advanceMs(30_001);
        UpstreamBreakers.Permit gone = breakers.tryAcquire("p");
        UpstreamBreakers.Permit probe = breakers.tryAcquire("p");
        assertThat(breakers.tryAcquire("p")).isNull();
        gone.unused(); // the client left: the probe slot comes back
        gone.failed("upstream_timeout"); // and a later report of the same permit changes nothing
        assertThat(breakers.state("p")).isEqualTo(State.HALF_OPEN);
        UpstreamBreakers.Permit again = breakers.tryAcquire("p");
        assertThat(again).isNotNull();
        probe.failed("upstream_status_500");
        assertThat(breakers.state("p")).isEqualTo(State.OPEN);
        again.succeeded(); // after the breaker reopened: ignored
        assertThat(breakers.tryAcquire("p")).isNull();
    }

    @Test
    void anErrorRateOverTheWindowOpensItWithoutAnUnbrokenRun() {
        UpstreamBreakers breakers = breakers(1_000, 50, 10, 10);
        for (int i = 0; i < 9; i++) {
            UpstreamBreakers.Permit permit = breakers.tryAcquire("p");
            if (i % 2 == 0) {
                permit.failed("upstream_status_502");
            } else {
                permit.succeeded();
            }
        }
        assertThat(breakers.state("p")).as("five of nine, under the minimum of ten calls").isEqualTo(State.CLOSED);
        breakers.tryAcquire("p").succeeded();
        assertThat(breakers.state("p")).as("five failures in the last ten: 50%").isEqualTo(State.OPEN);
        assertThat(breakers.states()).containsEntry("p", State.OPEN);
        assertThat(breakers.state("other")).as("each provider has its own").isEqualTo(State.CLOSED);
    }
}
