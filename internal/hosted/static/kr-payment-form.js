/*
 * OpenPSP JavaScript client, served at
 * /static/js/krypton-client/V4.0/stable/kr-payment-form.min.js.
 *
 * A merchant page written for Lyra's client ("Krypton") works unchanged:
 * the same script attributes (kr-public-key, kr-post-url-success …), the
 * same containers (<div class="kr-embedded" kr-form-token="…">), the same
 * global KR object (setFormConfig, onSubmit, onError, onFormReady,
 * removeForms, attachForm/addForm/renderElements, showForm, openPopin …),
 * and the same browser return (kr-hash, kr-hash-algorithm, kr-hash-key,
 * kr-answer-type, kr-answer).
 *
 * The card fields are in an iframe from OpenPSP's origin: nothing here ever
 * sees card data. Messages are exchanged with that frame only, checked by
 * origin and source window.
 */
(function () {
  'use strict';
  if (window.KR_CLIENT_LOADED && window.KR) return;

  var MARK = '/static/js/krypton-client/';
  var SOURCE = 'openpsp-kr';
  var CONTAINERS = '.kr-embedded, .kr-smart-form';

  function findScript() {
    if (document.currentScript && (document.currentScript.src || '').indexOf(MARK) >= 0) return document.currentScript;
    if (window.__kr__script) return window.__kr__script; // set by @lyracom/embedded-form-glue
    var s = document.getElementsByTagName('script');
    for (var i = s.length - 1; i >= 0; i--) if ((s[i].src || '').indexOf(MARK) >= 0) return s[i];
    return null;
  }
  var script = findScript();
  var src = script ? script.src : '';
  var base = src.indexOf(MARK) >= 0 ? src.slice(0, src.indexOf(MARK)) : '';
  var pspOrigin = base ? new URL(base + '/').origin : '';

  // Attributes read from the script tag, then from each container, and set
  // at runtime by KR.setFormConfig.
  var ATTRS = [
    'kr-public-key', 'kr-form-token', 'kr-language', 'kr-post-url-success', 'kr-get-url-success',
    'kr-post-url-refused', 'kr-get-url-refused', 'kr-popin', 'kr-spa-mode', 'kr-z-index',
    'kr-clear-on-error', 'kr-hide-debug-toolbar', 'kr-read-only',
    'kr-placeholder-pan', 'kr-placeholder-expiry', 'kr-placeholder-security-code',
    'kr-placeholder-card-holder-name', 'kr-label-pan', 'kr-label-expiry', 'kr-label-security-code',
    'kr-label-card-holder-name', 'kr-label-do-register'
  ];
  // Passed to the frame (the others stay on this page).
  var FRAME_ATTRS = [
    'kr-language', 'kr-hide-debug-toolbar', 'kr-placeholder-pan', 'kr-placeholder-expiry',
    'kr-placeholder-security-code', 'kr-placeholder-card-holder-name', 'kr-label-pan',
    'kr-label-expiry', 'kr-label-security-code', 'kr-label-card-holder-name', 'kr-label-do-register'
  ];
  var config = {};
  if (script) ATTRS.forEach(function (a) { if (script.hasAttribute(a)) config[a] = script.getAttribute(a); });

  // The pop-in's own labels, per language, until the frame tells its
  // wording (written in by the server from the pages' messages).
  var LABELS = {} /* openpsp:popin-labels */;

  // labels returns the pop-in labels in the form's language, chosen as the
  // pages choose it: kr-language, then the browser's languages (the buyer
  // language of the payment is only known once the frame has loaded).
  function labels(f) {
    var tags = [setting(f, 'kr-language')].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < tags.length; i++) {
      var l = String(tags[i] || '').split(/[-_]/)[0].toLowerCase();
      if (LABELS[l]) return LABELS[l];
    }
    return LABELS.en || { pay_short: 'Pay', close: 'Close', payment_form: 'Payment form' };
  }

  var ALIASES = { formToken: 'kr-form-token', language: 'kr-language', publicKey: 'kr-public-key' };

  var callbacks = {};
  function on(name) {
    return function (cb) {
      if (typeof cb === 'function') (callbacks[name] = callbacks[name] || []).push(cb);
      return Promise.resolve({ KR: KR });
    };
  }
  // fire calls the callbacks of an event; it resolves false if one of them
  // returned (or resolved) false, which cancels the default action.
  function fire(name, arg) {
    var list = (callbacks[name] || []).slice();
    var results = list.map(function (cb) {
      try { return cb(arg); } catch (e) { if (window.console) console.error(e); return undefined; }
    });
    return Promise.all(results.map(function (r) {
      return Promise.resolve(r).catch(function () { return undefined; });
    })).then(function (vals) { return vals.indexOf(false) < 0; });
  }

  function truthy(v) {
    if (v === true) return true;
    if (v === false || v === undefined || v === null) return false;
    var s = String(v).toLowerCase();
    return s !== 'false' && s !== '0' && s !== 'no';
  }
  function setting(f, a) {
    if (config[a] !== undefined && config[a] !== null) return String(config[a]);
    if (f && f.el && f.el.hasAttribute(a)) return f.el.getAttribute(a);
    return '';
  }
  function has(f, a) {
    if (config[a] !== undefined) return truthy(config[a]);
    return !!(f && f.el && f.el.hasAttribute(a) && f.el.getAttribute(a) !== 'false');
  }

  var forms = [];
  var seq = 0;

  function frameURL(f) {
    var q = new URLSearchParams();
    q.set('origin', window.location.origin);
    q.set('kr-public-key', setting(f, 'kr-public-key'));
    FRAME_ATTRS.forEach(function (a) { var v = setting(f, a); if (v) q.set(a, v); });
    if (f.popin) q.set('kr-popin', 'true');
    return base + '/embedded/' + encodeURIComponent(f.token) + '?' + q.toString();
  }

  function style(el, css) { for (var k in css) if (Object.prototype.hasOwnProperty.call(css, k)) el.style[k] = css[k]; }

  function clientError(code, message) {
    var e = { errorCode: code, errorMessage: message, detailedErrorCode: null, detailedErrorMessage: null };
    fire('error', e);
    if (window.console) console.warn('[OpenPSP KR] ' + code + ': ' + message);
  }

  // createForm renders a payment form in a container element.
  function createForm(el) {
    for (var i = 0; i < forms.length; i++) if (forms[i].el === el) destroy(forms[i]);
    var f = { id: 'kr-form-' + (++seq), el: el, ready: false, hiddenChildren: [], validations: {} };
    f.token = setting(f, 'kr-form-token');
    f.popin = has(f, 'kr-popin');
    if (!pspOrigin) { clientError('CLIENT_997', 'endpoint configuration mismatch'); return null; }
    if (!setting(f, 'kr-public-key')) { clientError('CLIENT_501', 'kr-public-key is empty or not defined'); return null; }
    if (!f.token) { clientError('CLIENT_305', 'no formToken defined'); return null; }

    // Lyra's field placeholders (kr-pan, kr-expiry, kr-payment-button …)
    // are replaced by the frame's own fields.
    for (var c = el.firstElementChild; c; c = c.nextElementSibling) {
      f.hiddenChildren.push([c, c.style.display]);
      c.style.display = 'none';
    }

    var text = labels(f);
    var iframe = document.createElement('iframe');
    iframe.src = frameURL(f);
    iframe.title = text.payment_form;
    iframe.setAttribute('allow', 'payment');
    iframe.setAttribute('data-kr-form-id', f.id);
    style(iframe, { display: 'block', width: '100%', minWidth: '280px', height: '430px', border: '0', background: 'transparent', colorScheme: 'normal' });
    f.iframe = iframe;

    if (f.popin) {
      var btn = document.createElement('button');
      btn.type = 'button';
      btn.className = 'kr-popin-button';
      btn.textContent = text.pay_short;
      // The hosted page's default colours (kept if the frame tells no
      // palette), and its hover and focus ring: this page's own styles are
      // unknown and may be bare, so they are set on the element (a
      // merchant policy without 'unsafe-inline' allows it). The shop's
      // colours are only known from the frame's ready message, so the
      // button is hidden until then rather than drawn in the default blue
      // first: visibility keeps its place (the page does not move when it
      // appears) and keeps it out of reach (focus, clicks, assistive
      // technologies) while it cannot be seen.
      style(btn, { minHeight: '44px', padding: '8px 18px', font: 'inherit', fontWeight: '700', color: '#ffffff', background: '#1d4ed8', border: '2px solid #1d4ed8', borderRadius: '6px', cursor: 'pointer', visibility: 'hidden' });
      btn.addEventListener('click', function () { openPopin(f); });
      btn.addEventListener('mouseenter', function () { style(btn, { textDecoration: 'underline', textUnderlineOffset: '.2em' }); });
      btn.addEventListener('mouseleave', function () { style(btn, { textDecoration: 'none' }); });
      btn.addEventListener('focus', function () {
        var kbd = true;
        try { kbd = btn.matches(':focus-visible'); } catch (e) { kbd = true; }
        if (kbd) style(btn, { outline: '3px solid #1e3a8a', outlineOffset: '2px', boxShadow: '0 0 0 5px #ffffff' });
      });
      btn.addEventListener('blur', function () { style(btn, { outline: '', outlineOffset: '', boxShadow: '' }); });
      el.appendChild(btn);
      f.button = btn;

      var overlay = document.createElement('div');
      overlay.className = 'kr-popin-overlay';
      style(overlay, { position: 'fixed', top: '0', right: '0', bottom: '0', left: '0', display: 'none', alignItems: 'center', justifyContent: 'center', background: 'rgba(17,24,39,.6)', zIndex: setting(f, 'kr-z-index') || '10000', padding: '8px', boxSizing: 'border-box' });
      var dialog = document.createElement('div');
      dialog.setAttribute('role', 'dialog');
      dialog.setAttribute('aria-modal', 'true');
      dialog.setAttribute('aria-label', text.payment_form);
      style(dialog, { position: 'relative', width: '100%', maxWidth: '440px', maxHeight: '100%', overflow: 'auto', background: '#ffffff', borderRadius: '8px', padding: '40px 8px 8px', boxSizing: 'border-box' });
      var close = document.createElement('button');
      close.type = 'button';
      close.className = 'kr-popin-close';
      close.textContent = '\u00d7';
      close.setAttribute('aria-label', text.close);
      style(close, { position: 'absolute', top: '4px', right: '4px', width: '36px', height: '36px', font: '24px/1 sans-serif', color: '#1f2937', background: 'transparent', border: '0', cursor: 'pointer' });
      close.addEventListener('click', function () { closePopin(f); });
      overlay.addEventListener('keydown', function (ev) { if (ev.key === 'Escape') closePopin(f); });
      overlay.addEventListener('click', function (ev) { if (ev.target === overlay) closePopin(f); });
      // Focus stays in the dialog: Tab past the frame's last field lands on
      // the end guard, which sends it to the close button; Shift+Tab before
      // the close button lands on the start guard, which sends it to the
      // frame's last field.
      var first = guard(function () { f.iframe.focus(); post(f, 'focusLast'); });
      var last = guard(function () { f.close.focus(); });
      dialog.appendChild(first);
      dialog.appendChild(close);
      dialog.appendChild(iframe);
      dialog.appendChild(last);
      overlay.appendChild(dialog);
      document.body.appendChild(overlay);
      f.overlay = overlay; f.dialog = dialog; f.close = close;
    } else {
      el.appendChild(iframe);
    }
    forms.push(f);
    fire('formCreated');
    return f;
  }

  // paint draws the pop-in button in the shop's colour, as the frame's pay
  // button (shop.Palette: the colour, the text on it, the edge darkened to
  // 3:1 on white). The ready message that brings the palette then shows
  // the button, hidden until then.
  function paint(btn, p) {
    var hex = /^#[0-9a-f]{6}$/i;
    if (!p || !hex.test(p.color) || !hex.test(p.on) || !hex.test(p.ui)) return;
    style(btn, { color: p.on, background: p.color, border: '2px solid ' + p.ui });
  }

  function guard(onFocus) {
    var g = document.createElement('span');
    g.tabIndex = 0;
    g.className = 'kr-popin-guard';
    g.addEventListener('focus', onFocus);
    return g;
  }

  function destroy(f) {
    release(f);
    if (f.iframe && f.iframe.parentNode) f.iframe.parentNode.removeChild(f.iframe);
    if (f.button && f.button.parentNode) f.button.parentNode.removeChild(f.button);
    if (f.overlay && f.overlay.parentNode) f.overlay.parentNode.removeChild(f.overlay);
    f.hiddenChildren.forEach(function (p) { p[0].style.display = p[1]; });
    forms = forms.filter(function (x) { return x !== f; });
  }

  // openPopin opens the dialog; opener, when given, is where focus returns
  // on close (else whatever has focus now, else the pop-in button).
  function openPopin(f, opener) {
    if (!f || !f.overlay || f.overlay.style.display !== 'none') return;
    var a = document.activeElement;
    f.opener = opener || (a && a !== document.body ? a : f.button);
    if (!f.loaded) {
      // Called before the frame's ready message (the button still hidden,
      // the frame unable to take focus): that message opens it, so that
      // focus goes to the first card field as on a normal open.
      f.openWhenLoaded = true;
      return;
    }
    f.overlay.style.display = 'flex';
    // The merchant page behind is out of reach (focus, clicks, assistive
    // technologies) while the dialog is open.
    f.inerted = [];
    for (var c = document.body.firstElementChild; c; c = c.nextElementSibling) {
      if (c !== f.overlay && !c.inert && c.tagName !== 'SCRIPT') { c.inert = true; f.inerted.push(c); }
    }
    f.close.focus();
    if (f.iframe.contentWindow) post(f, 'focus');
  }
  function release(f) {
    (f.inerted || []).forEach(function (c) { c.inert = false; });
    f.inerted = [];
  }
  function closePopin(f) {
    if (f) f.openWhenLoaded = false;
    if (!f || !f.overlay || f.overlay.style.display === 'none') return;
    f.overlay.style.display = 'none';
    release(f);
    // Back to whatever opened the dialog (the pop-in button, or the
    // merchant's own button calling KR.openPopin).
    var back = f.opener && f.opener.isConnected ? f.opener : f.button;
    if (back && back.focus) back.focus();
    if (f.button && document.activeElement !== back) f.button.focus();
    fire('popinClosed');
  }

  function post(f, type, data) {
    if (!f.iframe.contentWindow) return;
    var m = { source: SOURCE, type: type };
    if (data) for (var k in data) if (Object.prototype.hasOwnProperty.call(data, k)) m[k] = data[k];
    f.iframe.contentWindow.postMessage(m, pspOrigin);
  }

  // paymentResponse is what onSubmit / onError receive, as Lyra's client
  // gives it: the parsed answer, the exact signed string, the hash.
  function paymentResponse(r) {
    var answer = r['kr-answer'];
    var parsed = null;
    try { parsed = JSON.parse(answer); } catch (e) { parsed = null; }
    var fields = {
      'kr-hash': r['kr-hash'],
      'kr-hash-algorithm': r['kr-hash-algorithm'],
      'kr-hash-key': r['kr-hash-key'],
      'kr-answer-type': r['kr-answer-type'],
      'kr-answer': answer
    };
    return {
      _type: 'V4/Charge/ProcessPaymentAnswer',
      clientAnswer: parsed,
      rawClientAnswer: answer,
      hash: r['kr-hash'],
      hashAlgorithm: r['kr-hash-algorithm'],
      hashKey: r['kr-hash-key'],
      serverDate: parsed && parsed.serverDate,
      post: function () { return fields; },
      _fields: fields
    };
  }

  // browserReturn submits the signed result to the merchant's URL, as a
  // POST form or a GET query, like Lyra's client.
  function browserReturn(f, kind, fields) {
    var method = 'post';
    var url = setting(f, 'kr-post-url-' + kind);
    if (!url) { url = setting(f, 'kr-get-url-' + kind); method = 'get'; }
    if (!url) return;
    var form = document.createElement('form');
    form.method = method;
    form.style.display = 'none';
    if (method === 'get') {
      // A GET form replaces the action's query: carry it as fields.
      var u = new URL(url, window.location.href);
      u.searchParams.forEach(function (v, k) { addField(form, k, v); });
      u.search = '';
      url = u.toString();
    }
    form.action = url;
    ['kr-hash', 'kr-hash-algorithm', 'kr-hash-key', 'kr-answer-type', 'kr-answer'].forEach(function (k) {
      addField(form, k, fields[k]);
    });
    document.body.appendChild(form);
    HTMLFormElement.prototype.submit.call(form);
  }
  function addField(form, k, v) {
    var i = document.createElement('input');
    i.type = 'hidden'; i.name = k; i.value = v;
    form.appendChild(i);
  }

  function onResult(f, m) {
    var resp = paymentResponse(m.result || {});
    fire('transactionCreated', resp).then(function (go) {
      if (!go) return;
      if (m.accepted) {
        fire('submit', resp).then(function (go2) {
          if (!go2) return;
          closePopin(f);
          browserReturn(f, 'success', resp._fields);
        });
        return;
      }
      var e = m.error || { errorCode: 'PSP_099', errorMessage: 'too many attempts' };
      e.metadata = { answer: resp };
      fire('error', e).then(function (go2) {
        if (go2) browserReturn(f, 'refused', resp._fields);
      });
    });
  }

  window.addEventListener('message', function (ev) {
    if (ev.origin !== pspOrigin) return;
    var f = null;
    for (var i = 0; i < forms.length; i++) if (forms[i].iframe.contentWindow === ev.source) f = forms[i];
    var m = ev.data;
    if (!f || !m || m.source !== SOURCE) return;
    switch (m.type) {
      case 'ready':
        if (m.height) f.iframe.style.height = m.height + 'px';
        if (m.title) f.iframe.title = m.title;
        if (f.button && m.payLabel) f.button.textContent = f.label ? f.label.replace('%amount-and-currency%', m.amount || '') : m.payLabel;
        if (f.button) { paint(f.button, m.palette); f.button.style.visibility = ''; }
        if (f.close && m.closeLabel) f.close.setAttribute('aria-label', m.closeLabel);
        if (f.dialog && m.title) f.dialog.setAttribute('aria-label', m.title);
        f.loaded = true;
        if (f.openWhenLoaded) { f.openWhenLoaded = false; openPopin(f, f.opener); }
        if (m.page === 'form') {
          f.amount = m.amount;
          if (f.label) post(f, 'setLabel', { label: f.label });
          if (f.disabled) post(f, 'disable');
          if (!f.ready) { f.ready = true; fire('formReady'); }
        }
        break;
      case 'resize':
        if (m.height) f.iframe.style.height = m.height + 'px';
        break;
      case 'error': {
        var e = m.error || { errorCode: 'CLIENT_999', errorMessage: 'technical error' };
        if (m.result) {
          var resp = paymentResponse(m.result);
          e.metadata = { answer: resp };
          fire('transactionCreated', resp);
        }
        fire('error', e);
        break;
      }
      case 'result':
        onResult(f, m);
        break;
      case 'focus':
        fire('focus', { formId: f.id, field: m.field });
        break;
      case 'blur':
        fire('blur', { formId: f.id, field: m.field });
        break;
      case 'brand':
        fire('brandChanged', { KR: KR, card: { brand: m.brand ? String(m.brand).toLowerCase() : null } });
        break;
      case 'valid':
        fire('formValid');
        break;
      case 'validated': {
        var done = f.validations[m.id];
        delete f.validations[m.id];
        if (done) done(m.error || null);
        break;
      }
      case 'escape':
        closePopin(f);
        break;
    }
  });

  // elementsOf resolves a selector, element or list to payment containers,
  // creating one inside an element that holds none.
  function elementsOf(sel) {
    var els = [];
    if (!sel) els = Array.prototype.slice.call(document.querySelectorAll(CONTAINERS));
    else if (typeof sel === 'string') els = Array.prototype.slice.call(document.querySelectorAll(sel));
    else if (sel.length !== undefined) els = Array.prototype.slice.call(sel);
    else els = [sel];
    return els.map(function (el) {
      if (el.matches && el.matches(CONTAINERS)) return el;
      var inner = el.querySelector(CONTAINERS);
      if (inner) return inner;
      var d = document.createElement('div');
      d.className = 'kr-embedded';
      el.appendChild(d);
      return d;
    });
  }

  function render(sel) {
    var created = elementsOf(sel).map(createForm).filter(Boolean);
    return Promise.resolve({ KR: KR, result: { formId: created.length ? created[0].id : null } });
  }
  function byId(id) {
    for (var i = 0; i < forms.length; i++) if (!id || forms[i].id === id) return forms[i];
    return null;
  }
  function resolved() { return Promise.resolve({ KR: KR }); }

  var KR = {
    setFormConfig: function (cfg) {
      var rerender = false;
      Object.keys(cfg || {}).forEach(function (k) {
        var a = ALIASES[k] || k;
        var v = cfg[k];
        if (a === 'kr-form-token' || a === 'kr-language' || a === 'kr-public-key') rerender = rerender || config[a] !== v;
        config[a] = typeof v === 'boolean' ? String(v) : v;
      });
      if (rerender) forms.slice().forEach(function (f) {
        f.token = setting(f, 'kr-form-token');
        f.ready = false;
        f.iframe.src = frameURL(f);
      });
      return resolved();
    },
    setFormToken: function (t) { return KR.setFormConfig({ formToken: t }); },
    setShopName: resolved,
    setHelpVisibility: resolved,
    renderElements: render,
    attachForm: render,
    addForm: render,
    showForm: function (id) {
      var f = byId(id);
      if (f) { (f.popin ? f.button : f.iframe).style.display = ''; }
      return resolved();
    },
    hideForm: function (id) {
      var f = byId(id);
      if (f) { (f.popin ? f.button : f.iframe).style.display = 'none'; closePopin(f); }
      return resolved();
    },
    openPopin: function (id) { openPopin(byId(id)); return resolved(); },
    closePopin: function (id) { closePopin(byId(id)); return resolved(); },
    removeForms: function () { forms.slice().forEach(destroy); return resolved(); },
    submit: function () { forms.forEach(function (f) { post(f, 'submit'); }); return resolved(); },
    validateForm: function (id) {
      var f = byId(id);
      if (!f) return Promise.resolve({ KR: KR, result: null });
      var vid = 'v' + (++seq);
      return new Promise(function (resolve) {
        f.validations[vid] = function (err) { resolve({ KR: KR, result: err }); };
        post(f, 'validate', { id: vid });
      });
    },
    validate: function () { forms.forEach(function (f) { post(f, 'validate', { id: 'auto' }); }); },
    setBrand: function () {},
    openPaymentMethod: function () {},
    onSubmit: on('submit'),
    onError: on('error'),
    onFormReady: on('formReady'),
    onFormCreated: on('formCreated'),
    onLoaded: on('loaded'),
    onFocus: on('focus'),
    onBlur: on('blur'),
    onBrandChanged: on('brandChanged'),
    onTransactionCreated: on('transactionCreated'),
    onOrderUpdate: on('transactionCreated'),
    on3dSecureAbort: on('3dSecureAbort'),
    onPopinClosed: on('popinClosed'),
    onInstallmentChanged: on('installmentChanged'),
    onFormValid: on('formValid'),
    removeEventCallbacks: function (name) {
      if (name) delete callbacks[String(name).replace(/^on/, '').replace(/^./, function (c) { return c.toLowerCase(); })];
      else callbacks = {};
      return resolved();
    },
    button: {
      onClick: on('buttonClick'),
      setLabel: function (label) {
        forms.forEach(function (f) {
          f.label = String(label);
          post(f, 'setLabel', { label: f.label });
          if (f.button) f.button.textContent = f.label.replace('%amount-and-currency%', f.amount || '');
        });
        return resolved();
      },
      enable: function () { forms.forEach(function (f) { f.disabled = false; post(f, 'enable'); }); return resolved(); },
      disable: function () { forms.forEach(function (f) { f.disabled = true; post(f, 'disable'); }); return resolved(); },
      showSpinner: resolved,
      hideSpinner: resolved
    },
    wallet: { onTabChange: on('walletTabChange') }
  };
  window.KR = KR;
  window.KR_CLIENT_LOADED = true;

  function autoInit() {
    fire('loaded');
    if (truthy(config['kr-spa-mode'])) return;
    var els = document.querySelectorAll(CONTAINERS);
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var rendered = forms.some(function (f) { return f.el === el; });
      if (!rendered && (el.hasAttribute('kr-form-token') || config['kr-form-token'])) createForm(el);
    }
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', autoInit);
  else setTimeout(autoInit, 0);
})();
