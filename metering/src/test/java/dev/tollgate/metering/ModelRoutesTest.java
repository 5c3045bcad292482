package dev.tollgate.metering;

import static org.assertj.core.api.Assertions.assertThat;

import dev.tollgate.config.PriceCatalog;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.Test;

class ModelRoutesTest {

    private static ProviderConfig provider(String name, Protocol protocol) {
        return new ProviderConfig(name, protocol, URI.create("https://" + name + ".example/v1"), null, null, null);
    }

    @Test
    void aRowIsRoutableThroughTheProviderOfItsName() {
        PriceCatalog catalog = new PriceCatalog("USD", 1_000_000, List.of(TestRows.gpt4oMini(), TestRows.claudeHaiku(),
                TestRows.row("azure", "gpt-4o-mini", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS), "o200k_base",
                        128_000, 16_384, 1, 1, 1, 1)));
        ModelRoutes routes = new ModelRoutes(catalog, List.of(provider("openai", Protocol.OPENAI), provider("anthropic", Protocol.ANTHROPIC),
                provider("azure", Protocol.OPENAI)));
        ModelRoutes.Route mini = routes.find(Protocol.OPENAI, "gpt-4o-mini");
        assertThat(mini.provider().name()).as("the first configured provider wins").isEqualTo("openai");
        assertThat(mini.row().inputMicrosPerMillionTokens()).isEqualTo(150_000);
        assertThat(routes.find(Protocol.ANTHROPIC, "claude-haiku-4-5").provider().name()).isEqualTo("anthropic");
        assertThat(routes.find(Protocol.OPENAI, "claude-haiku-4-5")).as("a model is reached on its own surface").isNull();
        assertThat(routes.find(Protocol.ANTHROPIC, "gpt-4o-mini")).isNull();
        assertThat(routes.find(Protocol.OPENAI, "gpt-4o-mini-2024-07-18")).as("names match exactly").isNull();
        assertThat(routes.routes()).extracting(r -> r.provider().name() + "/" + r.row().model())
                .containsExactly("openai/gpt-4o-mini", "anthropic/claude-haiku-4-5");
    }

    @Test
    void rowsOfUnconfiguredProvidersAreNotRoutable() {
        PriceCatalog catalog = new PriceCatalog("USD", 1_000_000, List.of(TestRows.gpt4oMini(), TestRows.claudeHaiku()));
        ModelRoutes routes = new ModelRoutes(catalog, List.of(provider("anthropic", Protocol.ANTHROPIC)));
        assertThat(routes.find(Protocol.OPENAI, "gpt-4o-mini")).isNull();
        assertThat(routes.routes()).hasSize(1);
    }

    @Test
    void aProviderThatPricesAsAnotherServesEveryRowOfThatProviderOnItsOwnHost() {
        java.time.Instant change = java.time.Instant.parse("2026-12-15T12:00:00Z");
        dev.tollgate.config.ModelRow list = TestRows.gpt4oMini().withEffectivePeriod(null, change);
        dev.tollgate.config.ModelRow promoted = TestRows.row("openai", "gpt-4o-mini", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS),
                "o200k_base", 128_000, 16_384, 75_000, 37_500, 75_000, 300_000).withEffectivePeriod(change, null);
        PriceCatalog catalog = new PriceCatalog("USD", 1_000_000, List.of(list, promoted, TestRows.claudeHaiku()));
        ProviderConfig eu = new ProviderConfig("openai-eu", Protocol.OPENAI, URI.create("https://eu.example/v1"), null, null, null, "openai",
                java.util.Map.of(), java.util.Map.of());
        ModelRoutes routes = new ModelRoutes(catalog, List.of(eu, provider("anthropic", Protocol.ANTHROPIC)));

        ModelRoutes.Route mini = routes.find(Protocol.OPENAI, "gpt-4o-mini");
        assertThat(mini.provider()).as("the serving provider: its host, its key").isSameAs(eu);
        assertThat(mini.row().provider()).as("the row of the provider it prices as").isEqualTo("openai");
        assertThat(mini.versions()).containsExactly(list, promoted);
        assertThat(mini.pricedAt(change.toEpochMilli()).row()).isSameAs(promoted);
        assertThat(mini.pricedAt(change.toEpochMilli()).provider()).isSameAs(eu);
        assertThat(routes.find(Protocol.ANTHROPIC, "claude-haiku-4-5").provider().name()).isEqualTo("anthropic");
        assertThat(routes.routes()).extracting(r -> r.provider().name() + "/" + r.row().provider() + "/" + r.row().model())
                .containsExactly("openai-eu/openai/gpt-4o-mini", "anthropic/anthropic/claude-haiku-4-5");

        ModelRoutes both = new ModelRoutes(catalog, List.of(provider("openai", Protocol.OPENAI), eu));
        assertThat(both.find(Protocol.OPENAI, "gpt-4o-mini").provider().name()).as("the first configured provider still wins").isEqualTo("openai");
    }

    @Test
    void aRouteHoldsEveryVersionOfItsModelAndPricesARequestAtTheOneInForceWhenItWasAdmitted() {
        java.time.Instant change = java.time.Instant.parse("2026-12-15T12:00:00Z");
        dev.tollgate.config.ModelRow list = TestRows.gpt4oMini().withEffectivePeriod(null, change);
        dev.tollgate.config.ModelRow promoted = TestRows.row("openai", "gpt-4o-mini", java.util.Set.of(dev.tollgate.config.EndpointFamily.CHAT_COMPLETIONS),
                "o200k_base", 128_000, 16_384, 150_000, 75_000, 150_000, 300_000).withEffectivePeriod(change, java.time.Instant.parse("2027-01-01T00:00:00Z"));
        PriceCatalog catalog = new PriceCatalog("USD", 1_000_000, List.of(promoted, list));
        ModelRoutes.Route route = new ModelRoutes(catalog, List.of(provider("openai", Protocol.OPENAI))).find(Protocol.OPENAI, "gpt-4o-mini");
        assertThat(route.versions()).containsExactly(list, promoted);
        long changeMs = change.toEpochMilli();
        assertThat(route.pricedAt(changeMs - 1).row()).isSameAs(list);
        assertThat(route.pricedAt(changeMs).row()).isSameAs(promoted);
        assertThat(route.pricedAt(changeMs).catalogVersion()).isEqualTo(catalog.version());
        assertThat(route.pricedAt(java.time.Instant.parse("2027-01-01T00:00:00Z").toEpochMilli())).as("after the last version ended").isNull();

        ModelRoutes.Route undated = new ModelRoutes(new PriceCatalog("USD", 1_000_000, List.of(TestRows.gpt4oMini())),
                List.of(provider("openai", Protocol.OPENAI))).find(Protocol.OPENAI, "gpt-4o-mini");
        assertThat(undated.pricedAt(changeMs)).as("one undated version, no windows: the route itself").isSameAs(undated);
    }
}
