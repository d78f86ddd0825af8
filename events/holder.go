package events

// ActorTokenHolder is the actor kind of whoever holds a token that has no
// principal of its own (a client, backend or frontend token) and acts with
// it: the holder revoking it (RFC 7009). The actor's ID is the token's id.
const ActorTokenHolder = "token-holder"
