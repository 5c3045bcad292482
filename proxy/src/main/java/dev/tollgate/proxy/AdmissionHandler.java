package dev.tollgate.proxy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.EndpointFamily;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.Protocol;
import dev.tollgate.config.ProviderConfig;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.journal.LedgerReservation;
import dev.tollgate.metering.TokenCounter;
import dev.tollgate.metering.request.Admission;
import dev.tollgate.metering.request.RequestInspector;
import dev.tollgate.metering.request.Rejection;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Admits a request against its account's balance before anything goes upstream: reads the body,
 * finds the model's route, reserves the worst case it can afford (see {@link Admission}) and builds
 * the upstream request, lowering its output cap when the balance affords less than the worst case.
 * Tollgate's own endpoints (models, balance) are answered here.
 */
final class AdmissionHandler extends ChannelInboundHandlerAdapter {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(AdmissionHandler.class);
    /** The version Anthropic's API requires; sent when the client did not say. */
    static final String DEFAULT_ANTHROPIC_VERSION = "2023-06-01";

    private final Gateway gateway;

    AdmissionHandler(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange exchange = (Exchange) msg;
        switch (exchange.endpoint) {
            case BALANCE -> exchange.respond(json(balance(exchange)));
            case MODELS -> exchange.respond(json(models(exchange.surface)));
            default -> admit(ctx, exchange);
        }
    }

    private void admit(ChannelHandlerContext ctx, Exchange exchange) {
        ByteBuf content = exchange.request().content();
        byte[] body;
        int offset;
        if (content.hasArray()) {
            body = content.array();
            offset = content.arrayOffset() + content.readerIndex();
        } else {
            body = ByteBufUtil.getBytes(content);
            offset = 0;
        }
        int length = content.readableBytes();
        boolean free = exchange.endpoint.family() == null;
        EndpointFamily family = free ? EndpointFamily.MESSAGES : exchange.endpoint.family();
        RequestInspector.Result inspected = free
                ? RequestInspector.inspectModelOnly(family, body, offset, length)
                : RequestInspector.inspect(family, body, offset, length);
        if (inspected.rejection() != null) {
            reject(exchange, inspected.rejection());
            return;
        }
        String model = inspected.request().model();
        ModelRoutes.Route route = gateway.routes().find(exchange.endpoint.surface(), model);
        if (route == null) {
            reject(exchange, new Rejection(Rejection.Kind.UNKNOWN_MODEL, exchange.surface == Protocol.ANTHROPIC
                    ? "model: " + model
                    : "The model `" + model + "` does not exist or you do not have access to it.", "model"));
            return;
        }
        if (!route.row().serves(family)) {
            reject(exchange, new Rejection(Rejection.Kind.WRONG_ENDPOINT, "The model `" + model + "` is not served on "
                    + exchange.endpoint.path() + "; it serves " + route.row().endpoints().stream().map(EndpointFamily::path).sorted().toList() + ".", "model"));
            return;
        }
        exchange.route = route;
        exchange.inspected = inspected.request();
        exchange.counter = TokenCounter.forEncoding(route.row().encoding());

        byte[] rewritten = null;
        if (!free) {
            Admission.Plan plan = gateway.admission().plan(exchange.inspected, route.row());
            LedgerReservation reservation;
            try {
                // The money is held now; the request goes upstream once the journal has the reservation.
                reservation = gateway.ledger().reserve(exchange.key, plan.minimumMicros(), plan.worstCaseMicros(), exchange.requestId,
                        failure -> exchange.client.eventLoop().execute(() -> forwardOnceJournaled(ctx, exchange, failure)));
            } catch (RuntimeException e) {
                refuseUnrecorded(exchange, e);
                return;
            }
            if (reservation == null) {
                reject(exchange, Rejection.of(Rejection.Kind.INSUFFICIENT_BALANCE, insufficientMessage(exchange, plan)));
                return;
            }
            exchange.plan = plan;
            exchange.reservation = reservation;
            long affordable = Admission.affordableOutputTokens(plan, route.row(), reservation.heldMicros());
            rewritten = Admission.rewrite(exchange.inspected, plan, affordable);
        }
        exchange.upstreamBody = rewritten != null ? Unpooled.wrappedBuffer(rewritten) : content.retainedDuplicate();
        exchange.upstreamHeaders = upstreamHeaders(exchange, route.provider(), exchange.upstreamBody.readableBytes());
        exchange.releaseRequest();
        if (free) {
            ctx.fireChannelRead(exchange); // forwarded: nothing to journal
        }
    }

    /** On the event loop, once the journal has the reservation (or could not take it). */
    private void forwardOnceJournaled(ChannelHandlerContext ctx, Exchange exchange, RuntimeException failure) {
        if (failure != null) {
            exchange.reservation.abandon();
            refuseUnrecorded(exchange, failure);
        } else if (!exchange.client.isActive()) {
            exchange.release("client_disconnected"); // left while the reservation was being journaled
            exchange.complete(false);
        } else {
            ctx.fireChannelRead(exchange); // forwarded
        }
    }

    /** A request whose reservation cannot be journaled is not served: no unrecorded money moves. */
    private static void refuseUnrecorded(Exchange exchange, RuntimeException failure) {
        LOG.error("{}: cannot journal the reservation", exchange.requestId, failure);
        exchange.respond(ErrorShapes.response(exchange.client.alloc(), exchange.surface, ErrorShapes.INTERNAL,
                "Tollgate could not record this request; nothing was charged.", null, exchange.requestId));
    }

    private void reject(Exchange exchange, Rejection rejection) {
        exchange.respond(ErrorShapes.response(exchange.client.alloc(), exchange.surface, rejection, exchange.requestId));
    }

    private String insufficientMessage(Exchange exchange, Admission.Plan plan) {
        long available = gateway.accounts().balances().availableMicros(exchange.key.accountSlot());
        String currency = gateway.config().catalog().currency();
        return "Your Tollgate balance is too low for this request: admitting it needs "
                + Money.format(plan.minimumMicros(), currency) + " (a prompt of up to " + plan.promptBoundTokens()
                + " tokens and at least " + Math.min(plan.outputCapTokens(), gateway.limits().minOutputTokens())
                + " output tokens), and " + Money.format(available, currency) + " is available. Top up the account to continue.";
    }

    /**
     * The upstream request's headers: the client's own minus credentials, hop-by-hop headers and
     * encodings; the provider's key injected; the body's real length.
     */
    static HttpHeaders upstreamHeaders(Exchange exchange, ProviderConfig provider, int contentLength) {
        HttpHeaders headers = new DefaultHttpHeaders();
        Headers.copyRequestHeaders(exchange.request().headers(), headers);
        String host = provider.baseUrl().getHost();
        int port = provider.baseUrl().getPort();
        headers.set(HttpHeaderNames.HOST, port == -1 ? host : host + ":" + port);
        headers.set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
        headers.setInt(HttpHeaderNames.CONTENT_LENGTH, contentLength);
        headers.set(HttpHeaderNames.ACCEPT_ENCODING, HttpHeaderValues.IDENTITY);
        if (provider.protocol() == Protocol.ANTHROPIC) {
            if (!headers.contains("anthropic-version")) {
                headers.set("anthropic-version", DEFAULT_ANTHROPIC_VERSION);
            }
            if (provider.apiKey() != null) {
                headers.set("x-api-key", provider.apiKey().reveal());
            }
        } else if (provider.apiKey() != null) {
            headers.set(HttpHeaderNames.AUTHORIZATION, "Bearer " + provider.apiKey().reveal());
        }
        return headers;
    }

    private ObjectNode balance(Exchange exchange) {
        AccountBook.AccountSnapshot snapshot = gateway.accounts().snapshot(exchange.key.accountId());
        ObjectNode node = JSON.createObjectNode();
        node.put("object", "tollgate.balance");
        node.put("account", snapshot.accountId());
        node.put("key", exchange.key.label());
        node.put("currency", gateway.config().catalog().currency());
        node.put("available_micros", snapshot.availableMicros());
        node.put("reserved_micros", snapshot.reservedMicros());
        node.put("credited_micros", snapshot.creditedMicros());
        node.put("debited_micros", snapshot.debitedMicros());
        node.put("available", Money.format(snapshot.availableMicros(), gateway.config().catalog().currency()));
        return node;
    }

    private ObjectNode models(Protocol surface) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = JSON.createArrayNode();
        String firstId = null;
        String lastId = null;
        for (ModelRoutes.Route route : gateway.routes().routes()) {
            if (route.provider().protocol() != surface) {
                continue;
            }
            ModelRow row = route.row();
            ObjectNode model = data.addObject();
            if (surface == Protocol.ANTHROPIC) {
                model.put("type", "model");
                model.put("id", row.model());
                model.put("display_name", row.model());
                model.put("created_at", row.asOf() + "T00:00:00Z");
            } else {
                model.put("id", row.model());
                model.put("object", "model");
                model.put("created", row.asOf().toEpochDay() * 86_400L);
                model.put("owned_by", route.provider().name());
            }
            firstId = firstId == null ? row.model() : firstId;
            lastId = row.model();
        }
        root.set("data", data);
        if (surface == Protocol.ANTHROPIC) {
            root.put("has_more", false);
            root.put("first_id", firstId);
            root.put("last_id", lastId);
        } else {
            root.put("object", "list");
        }
        return root;
    }

    private static FullHttpResponse json(ObjectNode node) {
        byte[] bytes;
        try {
            bytes = JSON.writeValueAsBytes(node);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.wrappedBuffer(bytes));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON).setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
        return response;
    }

}
