# Multi-stage: a static binary on distroless, run as non-root.
FROM golang:1.26.8 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/tokenledger ./cmd/tokenledger

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tokenledger /tokenledger
USER nonroot:nonroot
EXPOSE 4242
ENTRYPOINT ["/tokenledger"]
CMD ["serve"]
