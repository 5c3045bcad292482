package dev.tollgate.proxy.exchange;

import static dev.tollgate.proxy.exchange.ExchangeHarness.content;
import static dev.tollgate.proxy.exchange.ExchangeHarness.head;
import static dev.tollgate.proxy.exchange.ExchangeHarness.last;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.tollgate.config.Limits;
import dev.tollgate.journal.JournalEvent;
import dev.tollgate.journal.Ledger;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.journal.LedgerState;
import dev.tollgate.proxy.Outcome;
import dev.tollgate.proxy.TestGateways;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.HttpHeaderNames;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The exchange's state machine on an EmbeddedChannel: each ending gives the reservation one outcome and
 * the client a well-formed end, including the endings the provider or the journal force on it.
 */
class ExchangeTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CHAT = "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String CHAT_STREAM = "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    private static final String CHAT_BODY = "{\"id\":\"c1\",\"object\":\"chat.completion\",\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,"
            + "\"message\":{\"role\":\"assistant\",\"content\":\"hello there\"},\"finish_reason\":\"stop\"}],"
            + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}";
    private static final String CHUNK = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\","
            + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"finish_reason\":null}]}\n\n";

    private final TestGateways test = new TestGateways("http://127.0.0.1:9/v1", 1_000_000, Limits.defaults());
    private final EmbeddedChannel channel = new EmbeddedChannel();

    @AfterEach
    void closeJournal() {
        channel.finishAndReleaseAll();
        test.close();
    }

    @Test
    void theTransitionTableAllowsOnlyForwardMoves() {
        for (ExchangeState from : ExchangeState.values()) {
            for (ExchangeState to : ExchangeState.values()) {
                boolean legal = from.canMoveTo(to);
                if (to.ordinal() < from.ordinal()) {
                    assertThat(legal).as(from + " -> " + to).isFalse();
                }
                if (from == ExchangeState.DONE) {
                    assertThat(legal).as("nothing leaves DONE").isFalse();
                }
            }
            if (from != ExchangeState.DONE) {
                assertThat(from.canMoveTo(ExchangeState.DONE)).as(from + " can always end").isTrue();
            }
        }
        assertThat(ExchangeState.AWAITING_HEAD.canMoveTo(ExchangeState.AWAITING_HEAD)).as("a resend").isTrue();
        assertThat(ExchangeState.RELAYING.canMoveTo(ExchangeState.RELAYING)).isFalse();
    }

    @Test
    void anIllegalTransitionThrows() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        assertThat(exchange.state()).isEqualTo(ExchangeState.AWAITING_HEAD);
        assertThatThrownBy(() -> exchange.authenticated(exchange.key())).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("expected state ADMITTING");
        exchange.clientGone();
        assertThat(exchange.state()).isEqualTo(ExchangeState.DONE);
        assertThatThrownBy(() -> exchange.forward(ExchangeHarness.NO_UPSTREAM)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("illegal transition DONE -> AWAITING_HEAD");
    }

    @Test
    void aSecondResponseHeadEndsTheExchangeCleanlyWithOneOutcome() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT_STREAM);
        exchange.onUpstream(head("text/event-stream"));
        exchange.onUpstream(content(CHUNK));
        exchange.onUpstream(head("text/event-stream")); // a provider (or a bug) that starts over
        assertThat(exchange.state()).isEqualTo(ExchangeState.DONE);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.ended()).isTrue();
        assertThat(received.body()).contains(" word").contains("\"error\"");
        assertOneOutcomeAndNothingHeld();
    }

    @Test
    void aHostileProviderRequestIdIsKeptWithinTheJournalsByteLimit() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        String hostile = "é".repeat(129) + "😀".repeat(40) + "\"\\%";
        exchange.onUpstream(head("application/json", "x-request-id", hostile));
        exchange.onUpstream(content(CHAT_BODY));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.head().status().code()).isEqualTo(200);
        assertThat(received.body()).isEqualTo(CHAT_BODY);
        assertThat(received.ended()).isTrue();
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        List<JournalEvent.Settled> settled = new ArrayList<>();
        test.journal.readAfter(-1, (index, event) -> {
            if (event instanceof JournalEvent.Settled record) {
                settled.add(record);
            }
        });
        assertThat(settled).hasSize(1);
        String kept = settled.get(0).request().upstreamRequestId();
        assertThat(kept.length()).isLessThanOrEqualTo(Billing.MAX_UPSTREAM_ID_BYTES).isGreaterThan(Billing.MAX_UPSTREAM_ID_BYTES - 3);
        assertThat(kept).as("visible ASCII only, cut between escapes").matches("(%E9)+");
        assertThat(outcome.upstreamRequestId()).as("the outcome keeps what the journal keeps").isEqualTo(kept);
        assertThat(Billing.providerId("req_" + hostile.substring(129), 1_000))
                .isEqualTo("req_" + "%F0%9F%98%80".repeat(40) + "%22%5C%25");
        assertThat(test.replayJournal().account(TestGateways.ACCOUNT).availableMicros()).isEqualTo(test.available());
    }

    @Test
    void aJsonAnswerWhoseDebitCannotBeJournaledBecomesA503() throws Exception {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        test.journal.close(); // the disk is gone: every append fails from here
        exchange.onUpstream(head("application/json"));
        exchange.onUpstream(content(CHAT_BODY));
        exchange.onUpstream(last());
        channel.runPendingTasks();
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.head().status().code()).isEqualTo(503);
        JsonNode error = JSON.readTree(received.body());
        assertThat(error.at("/error/code").asText()).isEqualTo("service_unavailable");
        assertThat(received.body()).doesNotContain("hello there");
        assertThat(exchange.state()).isEqualTo(ExchangeState.DONE);
        assertThat(test.reserved()).isZero();
        assertThat(test.conservationError()).isZero();
    }

    @Test
    void aDebitTheJournalRefusedIsGivenBackAndItsReleaseRecordedOnceTheJournalTakesRecordsAgain() throws Exception {
        long availableBefore = test.available();
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        test.journal.failNextAppends(1); // the settlement's record: the disk is full for that one append
        exchange.onUpstream(head("application/json"));
        exchange.onUpstream(content(CHAT_BODY));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        assertThat(ExchangeHarness.received(channel).head().status().code()).isEqualTo(503);
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.status()).as("the client got an error, so the debit is undone").isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo(LedgerReservation.NOT_JOURNALED_REASON);
        assertThat(test.available()).as("not charged").isEqualTo(availableBefore);
        Ledger ledger = test.gateway.ledger();
        assertThat(ledger.unrecordedReleases()).isEqualTo(1);

        // The journal takes records again (after its pause following a failed append); the next request records the release first.
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(10);
        while (!ledger.writer().health().acceptingRecords()) {
            assertThat(System.nanoTime()).as("the journal accepts records again").isLessThan(deadline);
            java.util.concurrent.locks.LockSupport.parkNanos(1_000_000);
        }
        EmbeddedChannel next = new EmbeddedChannel();
        Exchange second = ExchangeHarness.admitted(test, next, "/v1/chat/completions", CHAT);
        second.onUpstream(head("application/json"));
        second.onUpstream(content(CHAT_BODY));
        second.onUpstream(last());
        test.runJournalAcknowledgements(next);
        assertThat(ExchangeHarness.received(next).head().status().code()).isEqualTo(200);
        assertThat(ledger.unrecordedReleases()).isZero();
        LedgerState replayed = test.replayJournal();
        assertThat(replayed.openReservations()).as("the journal closed the refused one too").isEmpty();
        assertThat(replayed.account(TestGateways.ACCOUNT).availableMicros()).as("journal == counters").isEqualTo(test.available());
        assertThat(test.available()).isLessThan(availableBefore);
    }

    @Test
    void aStreamWhoseDebitCannotBeJournaledEndsWithAnErrorEventNotDone() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT_STREAM);
        exchange.onUpstream(head("text/event-stream"));
        exchange.onUpstream(content(CHUNK));
        test.journal.close();
        exchange.onUpstream(content("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":1,\"total_tokens\":10}}\n\ndata: [DONE]\n\n"));
        exchange.onUpstream(last());
        channel.runPendingTasks();
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.head().status().code()).isEqualTo(200);
        assertThat(received.ended()).isTrue();
        assertThat(received.body()).contains(" word").doesNotContain("[DONE]").contains("\"code\":\"service_unavailable\"");
        assertThat(exchange.state()).isEqualTo(ExchangeState.DONE);
        assertThat(test.reserved()).isZero();
        assertThat(test.conservationError()).isZero();
    }

    @Test
    void aResponsesStreamCutByTheProviderEndsWithAResponsesErrorEvent() throws Exception {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/responses",
                "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"input\":\"hi\"}");
        exchange.onUpstream(head("text/event-stream"));
        exchange.onUpstream(content("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"
                + "\"response\":{\"id\":\"resp_1\",\"status\":\"in_progress\"}}\n\n"
                + "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"sequence_number\":1,"
                + "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\" word\"}\n\n"));
        exchange.upstreamFailed("upstream_connection_lost", false);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.ended()).isTrue();
        String last = received.body().substring(received.body().lastIndexOf("event: "));
        assertThat(last).startsWith("event: error\ndata: ");
        JsonNode error = JSON.readTree(last.substring(last.indexOf("data: ") + 6).strip());
        assertThat(error.get("type").asText()).isEqualTo("error");
        assertThat(error.get("sequence_number").asLong()).isEqualTo(2);
        assertThat(error.get("message").asText()).isNotBlank();
        assertThat(received.body()).doesNotContain("data: {\"error\"");
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.reason()).isEqualTo("upstream_connection_lost");
    }

    @Test
    void aClientThatLeavesBeforeTheHeadPaysNothing() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        exchange.clientGone();
        exchange.onUpstream(head("application/json")); // too late: ignored, released by the exchange
        exchange.upstreamFailed("upstream_timeout", true); // a late timer: ignored
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("client_disconnected");
        assertThat(channel.outboundMessages()).isEmpty();
    }

    @Test
    void aJsonAnswerIsHeldUntilItsDebitIsJournaled() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        exchange.onUpstream(head("application/json"));
        exchange.onUpstream(content(CHAT_BODY.substring(0, 40)));
        assertThat(channel.outboundMessages()).as("nothing reaches the client before the debit").isEmpty();
        exchange.onUpstream(content(CHAT_BODY.substring(40)));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.head().headers().get(HttpHeaderNames.TRANSFER_ENCODING)).isEqualTo("chunked");
        assertThat(received.body()).isEqualTo(CHAT_BODY);
        assertOneOutcomeAndNothingHeld();
    }

    @Test
    void aStreamWithAnOverflowingUsageStillEndsAndIsBilledWithinItsBound() {
        long before = test.available();
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions",
                "{\"model\":\"gpt-4o-mini\",\"stream\":true,\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        exchange.onUpstream(head("text/event-stream"));
        exchange.onUpstream(content(CHUNK));
        // 1e14 output tokens: the cost of that overflowed the cost rule and the stream never ended.
        exchange.onUpstream(content("data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"gpt-4o-mini\",\"choices\":[],"
                + "\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":100000000000000,\"total_tokens\":100000000000009}}\n\ndata: [DONE]\n\n"));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.ended()).isTrue();
        assertThat(received.body()).endsWith("data: [DONE]\n\n");
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.usage().outputTokens()).isEqualTo(256);
        assertThat(outcome.debitedMicros()).isEqualTo(before - test.available()).isLessThanOrEqualTo(exchange.reservation().heldMicros());
        assertThat(outcome.writtenOffMicros()).isZero();
    }

    @Test
    void anAbsurdAnthropicOutputCountIsBilledAtTheCapSent() {
        long before = test.available();
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/messages",
                "{\"model\":\"claude-sonnet-5-5\",\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        exchange.onUpstream(head("application/json"));
        exchange.onUpstream(content("{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-sonnet-5-5\","
                + "\"content\":[{\"type\":\"text\",\"text\":\"hello\"}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,"
                + "\"usage\":{\"input_tokens\":9,\"output_tokens\":1000000000000}}"));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        assertThat(ExchangeHarness.received(channel).head().status().code()).isEqualTo(200);
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.usage().outputTokens()).isEqualTo(256);
        assertThat(outcome.usage().inputTokens()).isEqualTo(9);
        assertThat(before - test.available()).isEqualTo(outcome.debitedMicros())
                .isEqualTo(dev.tollgate.metering.CostRule.costMicros(exchange.route().row(), outcome.usage()));
        assertThat(test.replayJournal().account(TestGateways.ACCOUNT).availableMicros()).isEqualTo(test.available());
        List<JournalEvent> records = new ArrayList<>();
        test.journal.readAfter(-1, (index, event) -> records.add(event));
        JournalEvent.Settled settled = (JournalEvent.Settled) records.get(records.size() - 1);
        assertThat(records.get(records.size() - 2)).as("the drift, with both numbers, just before the settlement")
                .isEqualTo(new JournalEvent.UsageDrift(((JournalEvent.UsageDrift) records.get(records.size() - 2)).timestampMs(),
                        settled.reservationId(), new dev.tollgate.metering.Usage(9, 0, 0, 1_000_000_000_000L, 0), settled.usage()));
    }

    @Test
    void aProviderErrorEventMidStreamIsNotACompletion() {
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/messages",
                "{\"model\":\"claude-sonnet-5-5\",\"stream\":true,\"max_tokens\":256,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
        exchange.onUpstream(head("text/event-stream"));
        exchange.onUpstream(content("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\","
                + "\"role\":\"assistant\",\"model\":\"claude-sonnet-5-5\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,"
                + "\"usage\":{\"input_tokens\":9,\"output_tokens\":1}}}\n\n"
                + "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
                + "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hello there, friend\"}}\n\n"
                + "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.ended()).isTrue();
        assertThat(received.body()).contains("overloaded_error");
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.reason()).isEqualTo("upstream_error_event");
        assertThat(outcome.status()).isEqualTo(Outcome.SETTLED);
        assertThat(outcome.usage().outputTokens()).as("what was generated before the error").isPositive();
    }

    @Test
    void aTwoHundredCarryingAnErrorObjectCostsNothing() {
        long before = test.available();
        Exchange exchange = ExchangeHarness.admitted(test, channel, "/v1/chat/completions", CHAT);
        exchange.onUpstream(head("application/json"));
        exchange.onUpstream(content("{\"error\":{\"message\":\"The server had an error while processing your request.\",\"type\":\"server_error\",\"param\":null,\"code\":null}}"));
        exchange.onUpstream(last());
        test.runJournalAcknowledgements(channel);
        ExchangeHarness.Received received = ExchangeHarness.received(channel);
        assertThat(received.ended()).isTrue();
        assertThat(received.body()).contains("server_error");
        Outcome outcome = assertOneOutcomeAndNothingHeld();
        assertThat(outcome.status()).isEqualTo(Outcome.RELEASED);
        assertThat(outcome.reason()).isEqualTo("upstream_error_body");
        assertThat(test.available()).isEqualTo(before);
    }

    private Outcome assertOneOutcomeAndNothingHeld() {
        assertThat(test.outcomes).hasSize(1);
        assertThat(test.reserved()).isZero();
        assertThat(test.conservationError()).isZero();
        return test.outcomes.peek();
    }
}
