package dev.tollgate.proxy.lanes;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.AccountConfig;
import dev.tollgate.config.LaneConfig;
import dev.tollgate.config.ListenerConfig;
import dev.tollgate.config.TollgateConfig;
import dev.tollgate.metering.ApiKeys;
import dev.tollgate.metering.KeyScope;
import dev.tollgate.metering.request.Rejection;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which lane a request runs in: the key's scope tag, else its configured lane, else the first; a header picks among those allowed. */
class LanesTest {
    private static final String NIGHTLY = "a".repeat(64);
    private static final String CI = "b".repeat(64);
    private static final String ISSUED = "c".repeat(64);

    private static Lanes lanes() {
        TollgateConfig config = new TollgateConfig(new ListenerConfig("127.0.0.1", 0), List.of(), null, dev.tollgate.config.Limits.defaults(), null,
                List.of(new AccountConfig("acme", 0, List.of(new AccountConfig.KeyConfig(NIGHTLY, "nightly", "batch", List.of("interactive")),
                        new AccountConfig.KeyConfig(CI, "ci")))))
                .withLanes(List.of(LaneConfig.of("interactive", 8, 0, 1_000), LaneConfig.of("batch", 2, 4, 1_000).withPriority(5),
                        LaneConfig.of("bulk", 1, 0, 1_000).withPriority(5)));
        return new Lanes(config);
    }

    private static ApiKeys.ApiKey key(String hash, String laneTag) {
        return new ApiKeys.ApiKey(hash, "k", "acme", 0, -1, KeyScope.of("", laneTag, List.of(), KeyScope.NO_EXPIRY, List.of()), ApiKeys.ApiKey.CURRENT,
                null);
    }

    @Test
    void aKeysLaneIsItsTagThenItsConfiguredLaneThenTheFirst() {
        Lanes lanes = lanes();
        assertThat(lanes.laneOf(key(NIGHTLY, "")).name()).isEqualTo("batch");
        assertThat(lanes.laneOf(key(CI, "")).name()).isEqualTo("interactive");
        assertThat(lanes.laneOf(key(ISSUED, "bulk")).name()).as("an admin API key's tag").isEqualTo("bulk");
        assertThat(lanes.laneOf(key(NIGHTLY, "bulk")).name()).as("the tag, a live change, wins over the file").isEqualTo("bulk");
        assertThat(lanes.laneOf(key(ISSUED, "gone")).name()).as("a tag naming no declared lane").isEqualTo("interactive");
        assertThat(lanes.priorityRanks()).isEqualTo(2);
        assertThat(lanes.lane("batch").priorityRank()).isEqualTo(1);
        assertThat(lanes.lane("interactive").priorityRank()).isZero();
    }

    @Test
    void theHeaderPicksOnlyALaneTheKeyMayUse() {
        Lanes lanes = lanes();
        assertThat(lanes.choose(key(NIGHTLY, ""), "interactive").lane().name()).isEqualTo("interactive");
        assertThat(lanes.choose(key(NIGHTLY, ""), " batch ").lane().name()).isEqualTo("batch");
        assertThat(lanes.choose(key(NIGHTLY, ""), null).lane().name()).isEqualTo("batch");
        assertThat(lanes.choose(key(NIGHTLY, ""), "").lane().name()).isEqualTo("batch");
        Lanes.Choice notAllowed = lanes.choose(key(CI, ""), "batch");
        assertThat(notAllowed.refused()).isTrue();
        assertThat(notAllowed.refusedAs()).isEqualTo(Rejection.Kind.LANE_NOT_ALLOWED);
        assertThat(notAllowed.refusal()).contains("`batch`").contains("it may use interactive");
        Lanes.Choice unknown = lanes.choose(key(NIGHTLY, ""), "express");
        assertThat(unknown.refusedAs()).isEqualTo(Rejection.Kind.UNKNOWN_LANE);
        assertThat(unknown.refusal()).contains("`express`").contains("interactive, batch, bulk");
        assertThat(lanes.choose(key(NIGHTLY, ""), "Robert'); DROP").refusal()).as("a header that is no lane name is not echoed")
                .doesNotContain("DROP").contains("names no lane");
    }

    @Test
    void withoutLanesDeclaredEveryKeyIsInTheBuiltInLane() {
        Lanes lanes = new Lanes(new TollgateConfig(new ListenerConfig("127.0.0.1", 0), List.of(), null, dev.tollgate.config.Limits.defaults(), null,
                List.of()));
        assertThat(lanes.all()).extracting(Lane::name).containsExactly(LaneConfig.BUILT_IN_NAME);
        assertThat(lanes.laneOf(key(CI, "")).name()).isEqualTo("default");
        assertThat(lanes.choose(key(CI, ""), "default").lane().name()).isEqualTo("default");
    }
}
