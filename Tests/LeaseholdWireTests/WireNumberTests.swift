import CFencedResourceProto
import CLeaseholdProto
import FencedResourceWire
import LeaseholdCore
import LeaseholdWire
import Testing

@Suite("Wire numbers and names")
struct WireNumberTests {
    @Test(
        "LeaseholdError.Code raw values are the generated Code constants",
        arguments: [
            (LeaseholdError.Code.ok, LEASEHOLD__V1__CODE__OK.rawValue),
            (.cancelled, LEASEHOLD__V1__CODE__CANCELLED.rawValue),
            (.unknown, LEASEHOLD__V1__CODE__UNKNOWN.rawValue),
            (.invalidArgument, LEASEHOLD__V1__CODE__INVALID_ARGUMENT.rawValue),
            (.deadlineExceeded, LEASEHOLD__V1__CODE__DEADLINE_EXCEEDED.rawValue),
            (.notFound, LEASEHOLD__V1__CODE__NOT_FOUND.rawValue),
            (.permissionDenied, LEASEHOLD__V1__CODE__PERMISSION_DENIED.rawValue),
            (.resourceExhausted, LEASEHOLD__V1__CODE__RESOURCE_EXHAUSTED.rawValue),
            (.unimplemented, LEASEHOLD__V1__CODE__UNIMPLEMENTED.rawValue),
            (.internal, LEASEHOLD__V1__CODE__INTERNAL.rawValue),
            (.unavailable, LEASEHOLD__V1__CODE__UNAVAILABLE.rawValue),
            (.unauthenticated, LEASEHOLD__V1__CODE__UNAUTHENTICATED.rawValue),
            (.sessionExpired, LEASEHOLD__V1__CODE__SESSION_EXPIRED.rawValue),
            (.lockHeld, LEASEHOLD__V1__CODE__LOCK_HELD.rawValue),
            (.notLockHolder, LEASEHOLD__V1__CODE__NOT_LOCK_HOLDER.rawValue),
            (.staleFencingToken, LEASEHOLD__V1__CODE__STALE_FENCING_TOKEN.rawValue),
            (.compacted, LEASEHOLD__V1__CODE__COMPACTED.rawValue),
            (.frameTooLarge, LEASEHOLD__V1__CODE__FRAME_TOO_LARGE.rawValue),
            (.unsupportedProtocol, LEASEHOLD__V1__CODE__UNSUPPORTED_PROTOCOL.rawValue),
        ]
    )
    func code(_ code: LeaseholdError.Code, wire: UInt32) {
        #expect(code.rawValue == Int32(wire))
    }

    @Test("every Code in the .proto has its spec name as the Swift description")
    func codeNames() throws {
        let descriptor = leasehold__v1__code__descriptor
        #expect(descriptor.n_values == 19)
        let values = try #require(descriptor.values)
        for index in 0..<Int(descriptor.n_values) {
            let value = values[index]
            #expect(LeaseholdError.Code(rawValue: value.value).description == String(cString: value.name))
        }
    }

    @Test("Event.Kind raw values are the generated EventType constants")
    func eventTypes() {
        #expect(LEASEHOLD__V1__EVENT_TYPE__EVENT_TYPE_UNSPECIFIED.rawValue == 0)
        #expect(UInt32(Event.Kind.acquired.rawValue) == LEASEHOLD__V1__EVENT_TYPE__ACQUIRED.rawValue)
        #expect(UInt32(Event.Kind.released.rawValue) == LEASEHOLD__V1__EVENT_TYPE__RELEASED.rawValue)
        #expect(UInt32(Event.Kind.expired.rawValue) == LEASEHOLD__V1__EVENT_TYPE__EXPIRED.rawValue)
        #expect(UInt32(Event.Kind.forceReleased.rawValue) == LEASEHOLD__V1__EVENT_TYPE__FORCE_RELEASED.rawValue)
        #expect(Event.Kind.allCases.count == Int(leasehold__v1__event_type__descriptor.n_values) - 1)
    }

    typealias MethodTypes = (method: String, request: any WireMessage.Type, response: any WireMessage.Type)

    /// A descriptor's name and the types it carries.
    private static func types<Request, Response>(_ method: MethodDescriptor<Request, Response>) -> MethodTypes {
        (method.name, Request.self, Response.self)
    }

    private static func types<Request, Response>(_ method: StreamingMethodDescriptor<Request, Response>) -> MethodTypes
    {
        (method.name, Request.self, Response.self)
    }

    @Test("LeaseholdMethod names every rpc of the service, and its descriptors carry the rpc's message types")
    func leaseholdMethods() throws {
        #expect(LeaseholdMethod.allNames.count == 12)
        try Self.check(
            leasehold__v1__leasehold__descriptor,
            service: LeaseholdMethod.service,
            all: LeaseholdMethod.allNames,
            types: [
                Self.types(LeaseholdMethod.hello), Self.types(LeaseholdMethod.openSession),
                Self.types(LeaseholdMethod.resumeSession), Self.types(LeaseholdMethod.keepAlive),
                Self.types(LeaseholdMethod.closeSession), Self.types(LeaseholdMethod.acquire),
                Self.types(LeaseholdMethod.release), Self.types(LeaseholdMethod.forceRelease),
                Self.types(LeaseholdMethod.describe), Self.types(LeaseholdMethod.validate),
                Self.types(LeaseholdMethod.list), Self.types(LeaseholdMethod.watch),
            ]
        )
    }

    @Test("FencedResourceMethod names both rpcs of the sample, and its descriptors carry the rpcs' message types")
    func fencedResourceMethods() throws {
        try Self.check(
            fencedresource__v1__fenced_resource__descriptor,
            service: FencedResourceMethod.service,
            all: FencedResourceMethod.allNames,
            types: [Self.types(FencedResourceMethod.write), Self.types(FencedResourceMethod.read)]
        )
    }

    /// Checks method names and request/response message names against a generated service descriptor.
    private static func check(
        _ descriptor: ProtobufCServiceDescriptor,
        service: String,
        all: [String],
        types: [MethodTypes]
    ) throws {
        #expect(String(cString: descriptor.name) == service)
        #expect(all == types.map(\.method))
        try #require(Int(descriptor.n_methods) == types.count)
        let rpcs = try #require(descriptor.methods)
        for (index, expected) in types.enumerated() {
            let rpc = rpcs[index]
            #expect(expected.method == "\(service)/\(String(cString: rpc.name))")
            #expect(expected.request.protobufName == String(cString: rpc.input.pointee.name))
            #expect(expected.response.protobufName == String(cString: rpc.output.pointee.name))
        }
    }

    @Test("the types no method names carry their .proto names")
    func nestedMessageNames() {
        #expect(LockInfo.protobufName == String(cString: leasehold__v1__lock_info__descriptor.name))
        #expect(Status.protobufName == String(cString: leasehold__v1__status__descriptor.name))
        #expect(WaiterInfo.protobufName == String(cString: leasehold__v1__waiter__descriptor.name))
        #expect(Event.protobufName == String(cString: leasehold__v1__event__descriptor.name))
    }
}
