package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.config.RouteConfig;
import java.net.URI;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ModelRoutingTest {

    private static ProviderConfig provider(String name) {
        return new ProviderConfig(name, Protocol.OPENAI, URI.create("https://" + name + ".example/v1"), null, null, null);
    }

    private static final PriceCatalog CATALOG = new PriceCatalog("USD", 1_000_000, List.of(TestRows.gpt4oMini(),
            TestRows.row("eu", "gpt-4o-mini", Set.of(EndpointFamily.CHAT_COMPLETIONS), "o200k_base", 128_000, 16_384, 1, 1, 1, 1),
            TestRows.row("backup", "mini-backup", Set.of(EndpointFamily.CHAT_COMPLETIONS), "o200k_base", 128_000, 16_384, 2, 2, 2, 2)));
    private static final ModelRoutes ROUTES = new ModelRoutes(CATALOG, List.of(provider("openai"), provider("eu"), provider("backup")));

    @Test
    void aModelWithoutARouteKeepsItsCatalogRowsProviderAndARouteListsItsTargetsByPriority() {
        ModelRouting routing = new ModelRouting(ROUTES, List.of(new RouteConfig("fast", List.of(
                new RouteConfig.Target("backup", "mini-backup", 2, 1), new RouteConfig.Target("eu", "gpt-4o-mini", 1, 1)))));
        ModelRouting.Candidates plain = routing.find(Protocol.OPENAI, "gpt-4o-mini");
        assertThat(plain.configured()).isFalse();
        assertThat(plain.byPriority()).singleElement().satisfies(c -> assertThat(c.route().provider().name()).isEqualTo("openai"));
        assertThat(routing.find(Protocol.OPENAI, "gpt-4o-mini")).as("made once, not per request").isSameAs(plain);
        ModelRouting.Candidates fast = routing.find(Protocol.OPENAI, "fast");
        assertThat(fast.configured()).isTrue();
        assertThat(fast.attemptOrder(new Random(1))).extracting(c -> c.route().provider().name() + "/" + c.route().row().model())
                .containsExactly("eu/gpt-4o-mini", "backup/mini-backup");
        assertThat(routing.find(Protocol.ANTHROPIC, "fast")).as("a route serves the surface of its targets' protocol").isNull();
        assertThat(routing.find(Protocol.OPENAI, "unknown")).isNull();
    }

    @Test
    void withinOnePriorityTheFirstAttemptFollowsTheWeights() {
        long seed = Seeds.seed("ModelRoutingTest.withinOnePriorityTheFirstAttemptFollowsTheWeights");
        ModelRouting routing = new ModelRouting(ROUTES, List.of(new RouteConfig("mini", List.of(
                new RouteConfig.Target("openai", "gpt-4o-mini", 1, 3), new RouteConfig.Target("eu", "gpt-4o-mini", 1, 1),
                new RouteConfig.Target("backup", "mini-backup", 2, 100)))));
        ModelRouting.Candidates mini = routing.find(Protocol.OPENAI, "mini");
        Random random = new Random(seed);
        Map<String, Integer> first = new HashMap<>();
        int draws = 40_000;
        for (int i = 0; i < draws; i++) {
            List<ModelRouting.Candidate> order = mini.attemptOrder(random);
            assertThat(order).hasSize(3);
            assertThat(order.getLast().route().provider().name()).as("a later priority is only a fallback, whatever its weight").isEqualTo("backup");
            assertThat(order.stream().map(c -> c.route().provider().name()).distinct()).hasSize(3);
            first.merge(order.getFirst().route().provider().name(), 1, Integer::sum);
        }
        // 3:1 is 75%; four standard deviations of 40,000 draws is under 1 percentage point.
        assertThat(first.get("openai") * 100.0 / draws).isBetween(74.0, 76.0);
        assertThat(first.get("eu") + first.get("openai")).isEqualTo(draws);
    }
}
