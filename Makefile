# bucketmirror — every target works on a fresh clone with the image's Go 1.26
# and Python (moto 5.2.1). Tools beyond that are installed by the targets
# that need them, into $(TOOLS) (git-ignored).

GO        ?= go
GOARCH_LAMBDA ?= arm64
BIN       := bin
TOOLS     := $(CURDIR)/.tools
STATICCHECK := $(TOOLS)/staticcheck
RIE       := $(TOOLS)/aws-lambda-rie
FUNCTIONS := sweep sweeplist sweepbatch sweepaggregate create configure
TESTFLAGS ?= -count=1 -timeout 15m
export GOFLAGS := -buildvcs=false

.PHONY: all build lambdas test demo lint bench invoke tools clean

all: build

VERSION   ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

build: ## the CLI, bin/bucketmirror
	$(GO) build -ldflags='-X main.version=$(VERSION)' -o $(BIN)/bucketmirror ./cmd/bucketmirror

lambdas: $(addprefix build-,$(FUNCTIONS)) ## bootstrap binaries for provided.al2023

# build-% is also what `sam build` calls (BuildMethod: makefile) with
# ARTIFACTS_DIR set; locally the bootstrap lands in bin/lambda/%/.
ARTIFACTS_DIR ?= $(BIN)/lambda/$*
build-%:
	mkdir -p $(ARTIFACTS_DIR)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(GOARCH_LAMBDA) $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -o $(ARTIFACTS_DIR)/bootstrap ./functions/$*

# sam build (template.yaml, BuildMethod: makefile) runs build-<LogicalId> with
# ARTIFACTS_DIR set; each delegates to build-% for its functions/ directory.
build-SweepFunction:     ; $(MAKE) build-sweep
build-SweepListFunction: ; $(MAKE) build-sweeplist
build-SweepBatchFunction: ; $(MAKE) build-sweepbatch
build-SweepAggregateFunction: ; $(MAKE) build-sweepaggregate
build-CreateFunction:    ; $(MAKE) build-create
build-ConfigureFunction: ; $(MAKE) build-configure

tools: $(STATICCHECK) $(RIE)

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

$(RIE):
	GOBIN=$(TOOLS) $(GO) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@latest

test: tools lint ## lint, then every test against the embedded local cloud
	PATH="$(TOOLS):$$PATH" $(GO) test $(TESTFLAGS) ./...

lint: $(STATICCHECK)
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...
	cfn-lint template.yaml deploy/forwarder.yaml deploy/member-account.yaml
	python3 scripts/sam-transform.py template.yaml >/dev/null
	python3 scripts/sam-transform.py deploy/forwarder.yaml >/dev/null
	python3 scripts/sam-transform.py deploy/member-account.yaml >/dev/null

demo: ## the whole job on the embedded local cloud
	$(GO) run ./cmd/demo

# Each function's own sample event is events/<function>.json; the sweep's
# is the schedule's. events/README.md says what every function answers
# every file there.
FN ?= create
EVENT ?= $(if $(filter sweep,$(FN)),events/scheduled.json,events/$(FN).json)
invoke: $(RIE) ## run functions/$(FN) under aws-lambda-rie with $(EVENT) against the stack deployed locally, like `sam local invoke`
	PATH="$(TOOLS):$$PATH" $(GO) run ./cmd/invoke $(FN) $(EVENT)

bench: tools ## benchmarks; writes bench/results/latest.json
	PATH="$(TOOLS):$$PATH" $(GO) run ./bench

clean:
	rm -rf $(BIN)
