/*
 * The "forgot password" page: step 1 sends a code (POST /otp/send), step 2 resets the password
 * with it (POST /reset_user_password). The page speaks for the public application named by
 * ?client_id= in its address, which it sends in each JSON body; it never handles a client secret.
 *
 * Nothing is stored in the browser (no cookie, no storage): the otp_token lives in this script's
 * memory only. Every text shown comes from the tables below (English and Chinese, chosen from the
 * browser's languages) and is set as text, never as HTML.
 */
(function () {
  "use strict";

  // Seconds before a new code may be asked for after one was sent, when the server does not say
  // (it says with Retry-After). The server's default send interval.
  var SEND_INTERVAL_SECONDS = 30;

  var TEXTS = {
    en: {
      title: "Reset your password",
      sendHeading: "Step 1 of 2: get a code",
      sendIntro:
        "Enter the email address or phone number of your account. We will send you a code.",
      identifierLabel: "Email or phone number",
      identifierHint: "For example name@example.com or +86 138 0013 8000.",
      sendButton: "Send code",
      sendButtonWait: "Send code ({wait})",
      resetHeading: "Step 2 of 2: choose a new password",
      codeLabel: "Code",
      codeHint: "The 6-digit code we sent you.",
      resendButton: "Send a new code",
      resendButtonWait: "Send a new code ({wait})",
      passwordLabel: "New password",
      passwordHint: "Use a long passphrase that you do not use anywhere else.",
      passwordAgainLabel: "New password again",
      showPasswords: "Show passwords",
      resetButton: "Change password",
      resetButtonWait: "Change password ({wait})",
      backButton: "Use another email address or phone number",
      doneHeading: "Your password has been changed",
      doneText: "You can now sign in with your new password.",
      brokenHeading: "This link is incomplete",
      brokenText:
        "It does not say which application the password is for. " +
        "Open the “forgot password” link from the app again.",
      sentEmail: "We sent a code to {to}. Enter it below with your new password.",
      sentPhone: "We sent a code by text message to {to}. Enter it below with your new password.",
      resent: "We sent a new code to {to}. Codes sent before it no longer work.",
      needIdentifier: "Enter your email address or phone number.",
      needCode: "Enter the code we sent you.",
      needPasswords: "Enter your new password twice.",
      passwordsDiffer: "The two passwords are not the same. Type the new password twice.",
      retryIn: "You can try again in {wait}.",
      seconds: "{n} seconds",
      minutes: "{n} minutes",
      secondsShort: "{n} s",
      minutesShort: "{n} min",
      tooManyWrongCodes:
        "Too many wrong codes were entered for this address. Wait before trying again.",
      network: "We could not reach the server. Check your connection and try again.",
      policyUnknown: "It does not meet the password rules.",
    },
    zh: {
      title: "重置密码",
      sendHeading: "第 1 步（共 2 步）：获取验证码",
      sendIntro: "请输入账号绑定的邮箱地址或手机号码，我们会向其发送验证码。",
      identifierLabel: "邮箱或手机号码",
      identifierHint: "例如 name@example.com 或 13800138000。",
      sendButton: "发送验证码",
      sendButtonWait: "发送验证码（{wait}）",
      resetHeading: "第 2 步（共 2 步）：设置新密码",
      codeLabel: "验证码",
      codeHint: "我们发送给您的 6 位数字验证码。",
      resendButton: "重新发送验证码",
      resendButtonWait: "重新发送验证码（{wait}）",
      passwordLabel: "新密码",
      passwordHint: "请使用一个较长、且未在其他地方用过的密码或短语。",
      passwordAgainLabel: "再次输入新密码",
      showPasswords: "显示密码",
      resetButton: "修改密码",
      resetButtonWait: "修改密码（{wait}）",
      backButton: "使用其他邮箱地址或手机号码",
      doneHeading: "密码已修改",
      doneText: "现在可以使用新密码登录了。",
      brokenHeading: "链接不完整",
      brokenText: "此链接没有指明要为哪个应用重置密码。请从应用中重新打开“忘记密码”链接。",
      sentEmail: "验证码已发送至 {to}。请在下方输入验证码并设置新密码。",
      sentPhone: "验证码已通过短信发送至 {to}。请在下方输入验证码并设置新密码。",
      resent: "新的验证码已发送至 {to}。之前发送的验证码已失效。",
      needIdentifier: "请输入邮箱地址或手机号码。",
      needCode: "请输入我们发送给您的验证码。",
      needPasswords: "请输入两次新密码。",
      passwordsDiffer: "两次输入的密码不一致，请重新输入两次新密码。",
      retryIn: "{wait}后可以重试。",
      seconds: "{n} 秒",
      minutes: "{n} 分钟",
      secondsShort: "{n} 秒",
      minutesShort: "{n} 分钟",
      tooManyWrongCodes: "此地址输入错误验证码的次数过多，请稍候再试。",
      network: "无法连接服务器。请检查网络连接后重试。",
      policyUnknown: "它不符合密码规则。",
    },
  };

  // A message for every error code /otp/send and /reset_user_password can answer.
  var ERRORS = {
    en: {
      invalid_request: "The request was not accepted. Check what you entered and try again.",
      invalid_client:
        "This page is not set up for a known application. " +
        "Open the “forgot password” link from the app again.",
      unauthorized_client: "This application does not allow password resets from this page.",
      malformed_email: "This email address is not valid. Check it and try again.",
      malformed_phone_number:
        "This phone number is not valid. Check it and try again, " +
        "for example 13800138000 or +86 138 0013 8000.",
      invalid_email:
        "We cannot send email to this address. Use another email address or your phone number.",
      insufficient_email_quota:
        "We cannot send codes by email right now. Use your phone number, or try again later.",
      insufficient_sms_quota:
        "We cannot send codes by text message right now. " +
        "Use your email address, or try again later.",
      email_rate_limit_exceeded:
        "Too many codes were sent to this email address. Wait before asking for a new one.",
      sms_rate_limit_exceeded:
        "Too many codes were sent to this phone number. Wait before asking for a new one.",
      temporarily_unavailable: "The service is busy or could not send the code right now.",
      too_many_requests: "Too many attempts. Wait a moment.",
      bad_email_otp_token:
        "This code has expired or is no longer valid. Ask for a new code to be sent.",
      bad_phone_number_otp_token:
        "This code has expired or is no longer valid. Ask for a new code to be sent.",
      bad_email_otp:
        "The code is wrong or has expired. Check the code in the email we sent you and try again.",
      bad_phone_number_otp:
        "The code is wrong or has expired. " +
        "Check the code in the text message we sent you and try again.",
      user_not_found:
        "No account uses this email address or phone number. Check it, or use another one.",
      abnormal_user_status:
        "This account is locked, so its password cannot be reset. Please contact support.",
      invalid_new_password: "This password cannot be used. {rule}",
      recurrent_password:
        "You have used this password recently. Choose one you have not used before.",
      request_too_large: "What you entered is too long. Shorten it and try again.",
      server_error: "Something went wrong on our side. Please try again later.",
      idempotency_key_in_use: "Your previous attempt is still being processed. Wait a moment.",
      idempotency_key_reused: "The request was not accepted. Please try again.",
      unsupported_media_type: "This page cannot talk to the password service. Try again later.",
      not_found: "This page cannot talk to the password service. Try again later.",
      method_not_allowed: "This page cannot talk to the password service. Try again later.",
      fallback: "Something went wrong. Please try again later. (Error: {code})",
    },
    zh: {
      invalid_request: "请求未被接受。请检查输入的内容后重试。",
      invalid_client: "此页面没有对应有效的应用。请从应用中重新打开“忘记密码”链接。",
      unauthorized_client: "此应用不允许通过本页面重置密码。",
      malformed_email: "邮箱地址格式不正确，请检查后重试。",
      malformed_phone_number:
        "手机号码格式不正确，请检查后重试，例如 13800138000 或 +86 138 0013 8000。",
      invalid_email: "无法向此邮箱地址发送邮件。请使用其他邮箱地址或手机号码。",
      insufficient_email_quota: "暂时无法通过邮件发送验证码。请改用手机号码，或稍后再试。",
      insufficient_sms_quota: "暂时无法通过短信发送验证码。请改用邮箱地址，或稍后再试。",
      email_rate_limit_exceeded: "向此邮箱地址发送验证码过于频繁，请稍候再获取新的验证码。",
      sms_rate_limit_exceeded: "向此手机号码发送验证码过于频繁，请稍候再获取新的验证码。",
      temporarily_unavailable: "服务繁忙，或暂时无法发送验证码。",
      too_many_requests: "操作过于频繁，请稍候。",
      bad_email_otp_token: "验证码已过期或已失效。请重新获取验证码。",
      bad_phone_number_otp_token: "验证码已过期或已失效。请重新获取验证码。",
      bad_email_otp: "验证码错误或已过期。请核对邮件中的验证码后重试。",
      bad_phone_number_otp: "验证码错误或已过期。请核对短信中的验证码后重试。",
      user_not_found: "没有账号使用此邮箱地址或手机号码。请检查，或改用其他邮箱地址或手机号码。",
      abnormal_user_status: "此账号已被冻结，无法重置密码。请联系客服。",
      invalid_new_password: "此密码不可用。{rule}",
      recurrent_password: "您最近使用过这个密码。请选择一个以前没有用过的密码。",
      request_too_large: "输入的内容过长，请缩短后重试。",
      server_error: "服务器出现问题，请稍后重试。",
      idempotency_key_in_use: "上一次操作仍在处理中，请稍候。",
      idempotency_key_reused: "请求未被接受，请重试。",
      unsupported_media_type: "此页面无法与密码服务通信，请稍后重试。",
      not_found: "此页面无法与密码服务通信，请稍后重试。",
      method_not_allowed: "此页面无法与密码服务通信，请稍后重试。",
      fallback: "出现问题，请稍后重试。（错误：{code}）",
    },
  };

  // invalid_new_password's description names the broken rule, in English; in Chinese it is
  // translated when it is one of the server's known sentences, else shown as it is.
  var RULES = [
    [/at least (\d+) characters/i, "密码至少需要 {n} 个字符。"],
    [/at most (\d+) characters/i, "密码最多只能有 {n} 个字符。"],
    [/control characters/i, "密码不能包含控制字符。"],
    [/too common/i, "这个密码太常见，很容易被猜到。"],
    [/email/i, "密码不能包含邮箱地址。"],
    [/phone number/i, "密码不能包含手机号码。"],
  ];

  var BAD_TOKEN = ["bad_email_otp_token", "bad_phone_number_otp_token"];
  var BAD_CODE = ["bad_email_otp", "bad_phone_number_otp"];
  var RATE_LIMITED = ["email_rate_limit_exceeded", "sms_rate_limit_exceeded"];
  var WAIT = RATE_LIMITED.concat(["too_many_requests", "temporarily_unavailable"]);
  var ADDRESS = ["malformed_email", "malformed_phone_number", "invalid_email", "user_not_found"];

  function pickLanguage() {
    var languages =
      navigator.languages && navigator.languages.length
        ? navigator.languages
        : [navigator.language || "en"];
    for (var i = 0; i < languages.length; i++) {
      var language = String(languages[i]).toLowerCase();
      if (language.indexOf("zh") === 0) return "zh";
      if (language.indexOf("en") === 0) return "en";
    }
    return "en";
  }

  var lang = pickLanguage();

  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name)
        ? String(values[name])
        : whole;
    });
  }

  function t(key, values) {
    return format(TEXTS[lang][key], values);
  }

  function $(id) {
    return document.getElementById(id);
  }

  var message = $("message");
  var sendForm = $("send-form");
  var resetForm = $("reset-form");
  var done = $("done");
  var broken = $("broken");
  var identifierInput = $("identifier");
  var usernameInput = $("username");
  var codeInput = $("code");
  var passwordInput = $("password");
  var passwordAgainInput = $("password-again");
  var showPasswords = $("show-passwords");
  var sendButton = $("send-button");
  var resendButton = $("resend-button");
  var resetButton = $("reset-button");
  var backButton = $("back-button");

  var clientId = new URLSearchParams(window.location.search).get("client_id");
  // The address the last code was sent to, its channel ("email" or "phone_number") and token.
  var state = { channel: null, identifier: null, token: null };
  var busy = false;
  var cooldowns = {}; // key -> time (ms) before which the action must wait
  var ticker = null;

  // --- Text -------------------------------------------------------------------------------

  function translatePage() {
    document.documentElement.lang = lang === "zh" ? "zh-Hans" : "en";
    document.title = t("title");
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].textContent = t(nodes[i].getAttribute("data-i18n"));
    }
  }

  function ruleText(description) {
    if (!description) return t("policyUnknown");
    if (lang === "zh") {
      for (var i = 0; i < RULES.length; i++) {
        var match = RULES[i][0].exec(description);
        if (match) return format(RULES[i][1], { n: match[1] });
      }
    }
    return description;
  }

  // "45 seconds", or "5 minutes" past two minutes; short: "45 s", "5 min".
  function duration(seconds, short) {
    if (seconds < 120) return t(short ? "secondsShort" : "seconds", { n: seconds });
    return t(short ? "minutesShort" : "minutes", { n: Math.ceil(seconds / 60) });
  }

  function errorText(result, action) {
    var table = ERRORS[lang];
    var code = result.code;
    var text;
    if (action === "reset" && RATE_LIMITED.indexOf(code) !== -1) {
      // At reset, the address's limit is on wrong codes, not on codes sent.
      text = t("tooManyWrongCodes");
    } else if (code && Object.prototype.hasOwnProperty.call(table, code) && code !== "fallback") {
      text = format(table[code], { rule: ruleText(result.description) });
    } else {
      text = format(table.fallback, { code: code || "HTTP " + result.status });
    }
    if (result.seconds && WAIT.indexOf(code) !== -1) {
      text += " " + t("retryIn", { wait: duration(result.seconds, false) });
    }
    return text;
  }

  function say(text, kind, focus) {
    message.className = "message" + (kind ? " " + kind : "");
    message.textContent = text;
    if (focus) message.focus();
  }

  function sayError(text) {
    say(text, "error", true);
  }

  function clearMessage() {
    message.className = "message";
    message.textContent = "";
  }

  function markInvalid(inputs) {
    for (var i = 0; i < inputs.length; i++) inputs[i].setAttribute("aria-invalid", "true");
  }

  function clearInvalid() {
    var inputs = document.querySelectorAll("[aria-invalid]");
    for (var i = 0; i < inputs.length; i++) inputs[i].removeAttribute("aria-invalid");
  }

  // --- Steps and countdowns ---------------------------------------------------------------

  function show(step) {
    [sendForm, resetForm, done, broken].forEach(function (element) {
      element.hidden = element !== step;
    });
  }

  function channelOf(identifier) {
    return identifier.indexOf("@") !== -1 ? "email" : "phone_number";
  }

  function keyOf(identifier) {
    var value = identifier.trim().toLowerCase();
    if (channelOf(value) === "phone_number") value = value.replace(/[\s().-]/g, "");
    return value ? "send:" + value : "";
  }

  function secondsLeft(key) {
    if (!key || !cooldowns[key]) return 0;
    var left = Math.ceil((cooldowns[key] - Date.now()) / 1000);
    if (left <= 0) {
      delete cooldowns[key];
      return 0;
    }
    return left;
  }

  function startCooldown(key, seconds) {
    if (!key || !(seconds > 0)) return;
    cooldowns[key] = Date.now() + seconds * 1000;
    if (ticker === null) ticker = window.setInterval(tick, 250);
    render();
  }

  function tick() {
    render();
    if (Object.keys(cooldowns).length === 0) {
      window.clearInterval(ticker);
      ticker = null;
    }
  }

  function renderButton(button, key, label, waitLabel) {
    var left = secondsLeft(key);
    button.disabled = busy || left > 0;
    var text = left > 0 ? t(waitLabel, { wait: duration(left, true) }) : t(label);
    if (button.textContent !== text) button.textContent = text;
  }

  function render() {
    renderButton(sendButton, keyOf(identifierInput.value), "sendButton", "sendButtonWait");
    renderButton(
      resendButton,
      state.identifier ? keyOf(state.identifier) : "",
      "resendButton",
      "resendButtonWait"
    );
    renderButton(resetButton, "reset", "resetButton", "resetButtonWait");
  }

  function setBusy(value) {
    busy = value;
    sendForm.setAttribute("aria-busy", String(value));
    resetForm.setAttribute("aria-busy", String(value));
    render();
  }

  // --- Calls ------------------------------------------------------------------------------

  function retryAfter(response) {
    var value = (response.headers.get("Retry-After") || "").trim();
    if (!value) return null;
    if (/^\d+$/.test(value)) return parseInt(value, 10);
    var when = Date.parse(value);
    if (isNaN(when)) return null;
    return Math.max(0, Math.ceil((when - Date.now()) / 1000));
  }

  function post(path, body) {
    return window
      .fetch(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        redirect: "error",
        referrerPolicy: "no-referrer",
      })
      .then(
        function (response) {
          var result = {
            ok: response.ok,
            status: response.status,
            seconds: retryAfter(response),
            code: null,
            description: null,
            data: null,
          };
          return response.text().then(function (text) {
            var parsed = null;
            try {
              parsed = text ? JSON.parse(text) : null;
            } catch (ignored) {
              parsed = null;
            }
            if (response.ok) {
              result.data = parsed;
            } else if (parsed && typeof parsed.error === "string") {
              result.code = parsed.error;
              if (typeof parsed.error_description === "string") {
                result.description = parsed.error_description;
              }
            }
            return result;
          });
        },
        function () {
          return { ok: false, network: true };
        }
      );
  }

  function failed(result, action, cooldownKey) {
    if (result.network) {
      sayError(t("network"));
      return;
    }
    var code = result.code;
    if (WAIT.indexOf(code) !== -1 || result.status === 429 || result.status === 503) {
      var seconds = result.seconds;
      if (seconds === null && RATE_LIMITED.indexOf(code) !== -1) seconds = SEND_INTERVAL_SECONDS;
      result.seconds = seconds;
      startCooldown(action === "send" ? cooldownKey : "reset", seconds);
    }
    if (BAD_TOKEN.indexOf(code) !== -1) {
      // The token is dead (expired, used up or replaced): only a new code helps.
      state.token = null;
      show(sendForm);
    } else if (ADDRESS.indexOf(code) !== -1) {
      state.token = null;
      show(sendForm);
      markInvalid([identifierInput]);
    } else if (BAD_CODE.indexOf(code) !== -1) {
      markInvalid([codeInput]);
    } else if (code === "invalid_new_password" || code === "recurrent_password") {
      markInvalid([passwordInput, passwordAgainInput]);
    }
    render();
    sayError(errorText(result, action));
  }

  function sendCode(identifier, again) {
    var channel = channelOf(identifier);
    var key = keyOf(identifier);
    if (busy || secondsLeft(key) > 0) return;
    var body = { client_id: clientId, usage: "reset_password" };
    body[channel] = identifier;
    setBusy(true);
    post("/otp/send", body).then(function (result) {
      setBusy(false);
      if (!(result.ok && result.data && typeof result.data.otp_token === "string")) {
        failed(result.ok ? { ok: false, status: result.status, code: null } : result, "send", key);
        return;
      }
      state = { channel: channel, identifier: identifier, token: result.data.otp_token };
      startCooldown(key, result.seconds === null ? SEND_INTERVAL_SECONDS : result.seconds);
      usernameInput.value = identifier;
      codeInput.value = "";
      clearInvalid();
      show(resetForm);
      render();
      var sent = again ? "resent" : channel === "email" ? "sentEmail" : "sentPhone";
      say(t(sent, { to: identifier }), "success", false);
      codeInput.focus();
    });
  }

  function resetPassword() {
    var code = codeInput.value.replace(/[\s-]/g, "");
    var password = passwordInput.value;
    clearInvalid();
    if (!code) {
      markInvalid([codeInput]);
      sayError(t("needCode"));
      return;
    }
    if (!password || !passwordAgainInput.value) {
      markInvalid([!password ? passwordInput : passwordAgainInput]);
      sayError(t("needPasswords"));
      return;
    }
    if (password !== passwordAgainInput.value) {
      markInvalid([passwordInput, passwordAgainInput]);
      sayError(t("passwordsDiffer"));
      return;
    }
    if (busy || secondsLeft("reset") > 0) return;
    var body = { client_id: clientId, password: password };
    body[state.channel] = state.identifier;
    body[state.channel + "_otp_token"] = state.token;
    body[state.channel + "_otp"] = code;
    setBusy(true);
    post("/reset_user_password", body).then(function (result) {
      setBusy(false);
      if (!result.ok) {
        failed(result, "reset", null);
        return;
      }
      state = { channel: null, identifier: null, token: null };
      codeInput.value = "";
      passwordInput.value = "";
      passwordAgainInput.value = "";
      clearMessage();
      show(done);
      $("done-heading").focus();
    });
  }

  // --- Wiring -----------------------------------------------------------------------------

  function start() {
    translatePage();
    if (!clientId) {
      show(broken);
      $("broken-heading").focus();
      return;
    }
    show(sendForm);
    render();

    sendForm.addEventListener("submit", function (event) {
      event.preventDefault();
      clearInvalid();
      var identifier = identifierInput.value.trim();
      if (!identifier) {
        markInvalid([identifierInput]);
        sayError(t("needIdentifier"));
        return;
      }
      sendCode(identifier, false);
    });

    resetForm.addEventListener("submit", function (event) {
      event.preventDefault();
      resetPassword();
    });

    resendButton.addEventListener("click", function () {
      if (state.identifier) sendCode(state.identifier, true);
    });

    backButton.addEventListener("click", function () {
      state.token = null;
      clearInvalid();
      clearMessage();
      show(sendForm);
      render();
      identifierInput.focus();
    });

    showPasswords.addEventListener("change", function () {
      var type = showPasswords.checked ? "text" : "password";
      passwordInput.type = type;
      passwordAgainInput.type = type;
    });

    document.addEventListener("input", function (event) {
      if (event.target.removeAttribute) event.target.removeAttribute("aria-invalid");
      if (event.target === identifierInput) render();
    });

    identifierInput.focus();
  }

  start();
})();
