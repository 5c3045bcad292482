package dev.tollgate.proxy.listener;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.tollgate.config.ModelRow;
import dev.tollgate.config.Protocol;
import dev.tollgate.metering.AccountBook;
import dev.tollgate.metering.ModelRoutes;
import dev.tollgate.proxy.Endpoint;
import dev.tollgate.proxy.Gateway;
import dev.tollgate.proxy.Money;
import dev.tollgate.proxy.exchange.Exchange;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Tollgate's own endpoints, answered on the node from its own state, after authentication: the key's
 * balance and the models of the catalog. Nothing is reserved or sent upstream; every other request is
 * passed on to admission.
 */
public final class LocalEndpoints extends ChannelInboundHandlerAdapter {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Gateway gateway;

    public LocalEndpoints(Gateway gateway) {
        this.gateway = gateway;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        Exchange exchange = (Exchange) msg;
        if (exchange.endpoint() == Endpoint.BALANCE) {
            exchange.respond(json(balance(exchange)));
        } else if (exchange.endpoint() == Endpoint.MODELS) {
            exchange.respond(json(models(exchange.surface(), exchange.key().scope())));
        } else {
            ctx.fireChannelRead(exchange); // forwarded to admission
        }
    }

    private ObjectNode balance(Exchange exchange) {
        AccountBook.AccountSnapshot snapshot = gateway.accounts().snapshot(exchange.key().accountId());
        ObjectNode node = JSON.createObjectNode();
        node.put("object", "tollgate.balance");
        node.put("account", snapshot.accountId());
        node.put("key", exchange.key().label());
        node.put("currency", gateway.config().catalog().currency());
        node.put("available_micros", snapshot.availableMicros());
        node.put("reserved_micros", snapshot.reservedMicros());
        node.put("credited_micros", snapshot.creditedMicros());
        node.put("debited_micros", snapshot.debitedMicros());
        node.put("available", Money.format(snapshot.availableMicros(), gateway.config().catalog().currency()));
        // The key's own caps and what it used of them, as the admin API shows them.
        dev.tollgate.proxy.admin.AdminApi.capsAndSpend(node, gateway.ledger(), exchange.key().sha256Hex(), System.currentTimeMillis());
        return node;
    }

    /** The catalog's models on this surface that this key may use. */
    private ObjectNode models(Protocol surface, dev.tollgate.metering.KeyScope scope) {
        ObjectNode root = JSON.createObjectNode();
        ArrayNode data = JSON.createArrayNode();
        String firstId = null;
        String lastId = null;
        for (ModelRoutes.Route route : gateway.routes().routes()) {
            if (route.provider().protocol() != surface || !scope.allowsModel(route.row().model())) {
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
