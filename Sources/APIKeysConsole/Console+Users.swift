import APIKeysClient
import APIKeysWire
import Hummingbird
import Logging

extension Console {
    /// Console › Users: the Developer role (R5) and licenses (R17) a tenant admin gives.
    func usersPage(_ session: Session, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let users = try await client.listUsers().users.sorted { $0.userID < $1.userID }
        let rows: [[String: Any]] = users.map { user in
            ["userID": user.userID, "displayName": user.displayName,
             "roles": user.roles.map(Display.roleName), "licensed": user.licensed,
             "developer": user.roles.contains(.developer)]
        }
        return page("users", ["users": rows], title: "Users", nav: "users", context: context, isAdmin: true)
    }

    func setDeveloper(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let userID = form.text("user_id")
        if form["grant"] == "yes" {
            _ = try await client.assignRole(APIKeysV1.AssignRoleRequest(userID: userID, role: .developer))
            sessions.setNotice("\(userID) now has the Developer role.", for: session.id)
        } else {
            _ = try await client.removeRole(APIKeysV1.RemoveRoleRequest(userID: userID, role: .developer))
            sessions.setNotice("\(userID) no longer has the Developer role; their keys keep working (X14).", for: session.id)
        }
        return redirect("/console/users")
    }

    func setLicense(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let userID = form.text("user_id")
        let licensed = form["licensed"] == "yes"
        _ = try await client.setLicense(APIKeysV1.SetLicenseRequest(userID: userID, licensed: licensed))
        sessions.setNotice(licensed ? "\(userID) now has a license." : "\(userID) no longer has a license.", for: session.id)
        return redirect("/console/users")
    }
}
