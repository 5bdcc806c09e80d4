// Firebase sign-in: the sign-in page of a server in Firebase mode.
//
// Reads the Firebase web config from the form's data attributes (data-api-key,
// data-auth-domain, data-project-id, and data-emulator-url when the server runs
// against the Auth emulator), signs in with email and password through the
// Firebase JS SDK (vendor/firebase, compat builds: global `firebase`), and posts
// the ID token with the page's CSRF token (data-csrf, double-submitted with the
// sign-in cookie) to data-action. The server answers with the session cookie
// and where to go next. The SDK keeps nothing in the browser: the server's
// session is the sign-in from then on.
(function () {
	"use strict";

	var form = document.getElementById("firebase-signin");
	if (!form) {
		return;
	}
	var problem = document.querySelector('[data-testid="problem"]');
	var button = form.querySelector('button[type="submit"]');
	var d = form.dataset;

	function show(message) {
		problem.textContent = message;
		problem.hidden = false;
	}

	if (typeof firebase === "undefined" || !firebase.auth) {
		show("The sign-in script did not load; reload the page.");
		button.disabled = true;
		return;
	}

	var app = firebase.initializeApp({ apiKey: d.apiKey, authDomain: d.authDomain, projectId: d.projectId });
	var auth = app.auth();
	if (d.emulatorUrl) {
		// No warning banner: it would need inline styles, which the page's
		// policy forbids; the page says it is a development server.
		auth.useEmulator(d.emulatorUrl, { disableWarnings: true });
	}
	var persistence = auth.setPersistence(firebase.auth.Auth.Persistence.NONE);

	// Messages for the Firebase errors a user can act on.
	var messages = {
		"auth/invalid-credential": "Wrong email or password.",
		"auth/invalid-login-credentials": "Wrong email or password.",
		"auth/wrong-password": "Wrong email or password.",
		"auth/user-not-found": "Wrong email or password.",
		"auth/invalid-email": "That is not an email address.",
		"auth/user-disabled": "This account is disabled.",
		"auth/too-many-requests": "Too many attempts: wait a moment and try again.",
		"auth/network-request-failed": "Firebase could not be reached: check the connection and try again.",
	};

	function post(idToken) {
		var body = new URLSearchParams();
		body.set("id_token", idToken);
		body.set("csrf_token", d.csrf);
		return fetch(d.action, {
			method: "POST",
			body: body,
			credentials: "same-origin",
			headers: { "X-CSRF-Token": d.csrf, Accept: "application/json" },
		}).then(function (resp) {
			return resp
				.json()
				.catch(function () {
					return {};
				})
				.then(function (answer) {
					if (!resp.ok) {
						var e = new Error((answer.error && answer.error.message) || "Sign-in failed (" + resp.status + ").");
						e.server = true;
						throw e;
					}
					return answer;
				});
		});
	}

	form.addEventListener("submit", function (ev) {
		ev.preventDefault();
		problem.hidden = true;
		button.disabled = true;
		var email = form.querySelector("#signin-email").value;
		var password = form.querySelector("#signin-password").value;
		persistence
			.catch(function () {})
			.then(function () {
				return auth.signInWithEmailAndPassword(email, password);
			})
			.then(function (cred) {
				return cred.user.getIdToken();
			})
			.then(post)
			.then(function (answer) {
				return auth.signOut().then(function () {
					window.location.assign(answer.location || d.next || "/");
				});
			})
			.catch(function (err) {
				auth.signOut().catch(function () {});
				show((err && err.code && messages[err.code]) || (err && err.message) || "Sign-in failed.");
				button.disabled = false;
			});
	});
})();
