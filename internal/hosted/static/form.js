// OpenPSP card form: one script for the hosted page, the embedded form's
// frame, the test 3-D Secure page and the result pages.
//
// It never writes HTML as text (the pages require Trusted Types), never
// stores card data, and in a frame talks only to the merchant page's origin
// given by the server (data-parent-origin), never to "*".
(function () {
  'use strict';

  var root = document.documentElement;
  var embedded = root.getAttribute('data-mode') === 'embedded';
  var parentOrigin = root.getAttribute('data-parent-origin') || '';
  var inFrame = embedded && parentOrigin !== '' && window.parent !== window;
  var SOURCE = 'openpsp-kr';

  function toParent(type, data) {
    if (!inFrame) return;
    var msg = { source: SOURCE, type: type };
    if (data) for (var k in data) if (Object.prototype.hasOwnProperty.call(data, k)) msg[k] = data[k];
    window.parent.postMessage(msg, parentOrigin);
  }

  // ---- Card rules (the server decides; these only help the buyer) ----

  // A small mirror of internal/card's IIN table: [from, to, brand], the
  // longest matching prefix wins (browsertest checks it against Go).
  var IIN = [
    ['4', '4', 'VISA'],
    ['4026', '4026', 'VISA_ELECTRON'], ['417500', '417500', 'VISA_ELECTRON'],
    ['4508', '4508', 'VISA_ELECTRON'], ['4844', '4844', 'VISA_ELECTRON'],
    ['4913', '4913', 'VISA_ELECTRON'], ['4917', '4917', 'VISA_ELECTRON'],
    ['51', '55', 'MASTERCARD'], ['2221', '2720', 'MASTERCARD'],
    ['34', '34', 'AMEX'], ['37', '37', 'AMEX'],
    ['300', '305', 'DINERS'], ['36', '36', 'DINERS'], ['38', '39', 'DINERS'],
    ['3528', '3589', 'JCB'],
    ['6011', '6011', 'DISCOVER'], ['644', '649', 'DISCOVER'], ['65', '65', 'DISCOVER'],
    ['62', '62', 'UNION_PAY'], ['81', '81', 'UNION_PAY'],
    ['50', '50', 'MAESTRO'], ['56', '61', 'MAESTRO'], ['63', '64', 'MAESTRO'], ['66', '69', 'MAESTRO']
  ];
  function span(a, b) { var o = []; for (var i = a; i <= b; i++) o.push(i); return o; }
  var LENGTHS = {
    VISA: [13, 16, 19], VISA_ELECTRON: [16], MASTERCARD: [16], AMEX: [15],
    DINERS: span(14, 19), JCB: span(16, 19), DISCOVER: span(16, 19),
    UNION_PAY: span(16, 19), MAESTRO: span(12, 19)
  };
  var NAMES = {
    VISA: 'Visa', VISA_ELECTRON: 'Visa Electron', MASTERCARD: 'Mastercard',
    AMEX: 'American Express', DINERS: 'Diners Club', JCB: 'JCB', DISCOVER: 'Discover',
    UNION_PAY: 'UnionPay', MAESTRO: 'Maestro'
  };

  function detectBrand(d) {
    var best = null, bestLen = 0;
    for (var i = 0; i < IIN.length; i++) {
      var lo = IIN[i][0], hi = IIN[i][1], n = lo.length;
      if (d.length < n || n <= bestLen) continue;
      var p = d.slice(0, n);
      if (p >= lo && p <= hi) { best = IIN[i][2]; bestLen = n; }
    }
    return best;
  }
  // Exposed for the browser test that compares this table with Go's.
  window.openpspDetectBrand = detectBrand;

  function luhn(d) {
    var sum = 0, dbl = false;
    for (var i = d.length - 1; i >= 0; i--) {
      var n = d.charCodeAt(i) - 48;
      if (dbl) { n *= 2; if (n > 9) n -= 9; }
      sum += n; dbl = !dbl;
    }
    return sum % 10 === 0;
  }
  function digits(s) { return (s || '').replace(/\D/g, ''); }
  function cscLength(brand) { return brand === 'AMEX' ? 4 : 3; }
  function groups(brand, len) {
    if (brand === 'AMEX') return [4, 6, 5];
    if (brand === 'DINERS' && len === 14) return [4, 6, 4];
    return [4, 4, 4, 4, 3];
  }
  function formatPAN(d, brand) {
    var g = groups(brand, d.length), out = [], i = 0;
    for (var k = 0; k < g.length && i < d.length; k++) { out.push(d.slice(i, i + g[k])); i += g[k]; }
    if (i < d.length) out.push(d.slice(i));
    return out.join(' ');
  }

  // ---- Pages without the card form ----

  function ready(page) {
    var form = document.getElementById('kr-form');
    var d = form ? form.dataset : {};
    toParent('ready', {
      page: page,
      payLabel: d.payLabel || '',
      amount: d.amount || '',
      closeLabel: d.closeLabel || '',
      // The shop's colours, for the pop-in's button on the merchant page.
      palette: d.primary ? { color: d.primary, on: d.primaryText, ui: d.primaryUi } : null,
      title: d.title || document.title,
      height: height()
    });
  }
  function height() {
    var m = document.getElementById('kr-main');
    // In document coordinates: a frame still too short when a field got
    // focus has scrolled to it, and must not measure itself shorter by the
    // scroll (the shop and amount would stay scrolled out of sight).
    return Math.ceil((m ? m.getBoundingClientRect().bottom + window.scrollY : document.body.scrollHeight) + 8);
  }
  function watchHeight() {
    if (!inFrame || typeof ResizeObserver === 'undefined') return;
    var last = 0;
    new ResizeObserver(function () {
      var h = height();
      if (h !== last) { last = h; toParent('resize', { height: h }); }
    }).observe(document.getElementById('kr-main') || document.body);
  }

  // resultFields reads the signed browser-return fields of a container.
  function resultFields(el) {
    var out = {};
    if (!el) return null;
    var inputs = el.querySelectorAll('input[type="hidden"]');
    for (var i = 0; i < inputs.length; i++) out[inputs[i].name] = inputs[i].value;
    return out['kr-answer'] ? out : null;
  }

  // finish ends the payment: in a frame, the merchant page gets the signed
  // result and decides where to go (kr-post-url-success …); on the hosted
  // page, the return form goes to the merchant.
  function finish(accepted, result, error, returnForm) {
    if (inFrame) {
      if (result) toParent('result', { accepted: accepted, result: result, error: error || null });
      else if (error) toParent('error', { error: error });
      return;
    }
    if (returnForm) {
      // A short delay would only hide the "taking you back" message from
      // screen readers' first announcement; submit at once.
      returnForm.submit();
    }
  }

  function errorFrom(el) {
    if (!el || !el.dataset.errorCode) return null;
    return { errorCode: el.dataset.errorCode, errorMessage: el.dataset.errorMessage || '' };
  }

  var pageKind = root.getAttribute('data-page');
  function init() {
    watchHeight();
    if (pageKind === 'result') {
      var msg = document.getElementById('kr-final-message');
      var rf = document.getElementById('kr-return');
      var rd = document.getElementById('kr-result');
      ready('result');
      finish(!!(rd ? rd.dataset.accepted === 'true' : msg && msg.getAttribute('role') === 'status'),
        resultFields(rd), errorFrom(msg), rf);
      return;
    }
    if (pageKind === 'message') {
      ready('message');
      var e = errorFrom(document.getElementById('kr-final-message'));
      if (e) toParent('error', { error: e });
      return;
    }
    if (pageKind === 'challenge') {
      ready('challenge');
      var acs = document.getElementById('kr-acs');
      if (acs) acs.addEventListener('submit', function () {
        var bs = acs.querySelectorAll('button');
        // Disable after the submission has taken the clicked button's value.
        setTimeout(function () { for (var i = 0; i < bs.length; i++) bs[i].disabled = true; }, 0);
      });
      return;
    }
    if (pageKind === 'form') cardForm();
  }

  // ---- The card form ----

  function cardForm() {
    var form = document.getElementById('kr-form');
    var M = {};
    try { M = JSON.parse(form.dataset.messages || '{}'); } catch (e) { M = {}; }
    var pan = document.getElementById('kr-pan');
    var exp = document.getElementById('kr-expiry');
    var csc = document.getElementById('kr-csc');
    var holder = document.getElementById('kr-holder');
    var pay = document.getElementById('kr-pay');
    var brandEl = document.getElementById('kr-brand');
    var alertEl = document.getElementById('kr-form-error');
    var attemptsEl = document.getElementById('kr-attempts');
    var payLabel = pay.textContent;
    var busy = false, brand = null, touched = {}, wasValid = false, disabledByParent = false;
    // Buyer wallet (CUSTOMER_WALLET forms with saved cards): 'saved' pays
    // with the chosen saved card, 'new' with the card fields.
    var walletEl = document.getElementById('kr-wallet');
    // A wallet's form sent back with a mistake in the new card comes with
    // that tab open (data-mode="new"); otherwise the saved cards are shown.
    var mode = walletEl && walletEl.getAttribute('data-mode') !== 'new' ? 'saved' : 'new';
    var saveWrap = document.getElementById('kr-save-wrap');
    var saveBox = document.getElementById('kr-save');
    var walletForm = form.dataset.formAction === 'CUSTOMER_WALLET';
    // The security code that confirms the chosen saved card (a wallet's
    // or a one-click form's); its length follows the chosen card's brand.
    var savedCsc = document.getElementById('kr-saved-csc');
    // The brands a wallet keeps (document 003), as this script detects
    // them: CB and Titre-Restaurant cards are co-badged with one of these.
    var WALLET_BRANDS = { VISA: 1, VISA_ELECTRON: 1, MASTERCARD: 1, MAESTRO: 1, AMEX: 1 };
    var fieldNames = { pan: 'pan', expiry: 'expiryDate', csc: 'securityCode', holder: 'cardHolderName' };
    var inputs = { pan: pan, expiry: exp, csc: csc, holder: holder };

    function fmt(s, v) { return (s || '').replace(/%[sd]/, v); }

    function setError(name, text) {
      var el = inputs[name];
      var out = document.getElementById('kr-' + name + '-error');
      el.setAttribute('aria-invalid', text ? 'true' : 'false');
      if (out) out.textContent = text || '';
    }

    function check(name) {
      var v = inputs[name].value;
      switch (name) {
        case 'pan': {
          var d = digits(v);
          if (!d) return M.err_pan_required;
          var lens = LENGTHS[brand] || span(12, 19);
          if (lens.indexOf(d.length) < 0 || !luhn(d)) return M.err_pan_invalid;
          return '';
        }
        case 'expiry': {
          var e = digits(v);
          if (!e) return M.err_exp_required;
          if (e.length !== 4 && e.length !== 6) return M.err_exp_invalid;
          var mm = +e.slice(0, 2), yy = e.length === 4 ? 2000 + +e.slice(2) : +e.slice(2);
          if (mm < 1 || mm > 12 || yy < 2000 || yy > 2099) return M.err_exp_invalid;
          var now = new Date();
          if (yy < now.getFullYear() || (yy === now.getFullYear() && mm < now.getMonth() + 1)) return M.err_exp_past;
          return '';
        }
        case 'csc': {
          var c = digits(v), n = cscLength(brand);
          if (!v.trim()) return M.err_csc_required;
          if (c.length !== n || c.length !== v.trim().length) return fmt(M.err_csc_invalid, n);
          return '';
        }
        case 'holder':
          return v.length > 64 ? M.err_holder_long : '';
      }
      return '';
    }

    function chosenCard() {
      return form.querySelector('input[name="saved"]:checked');
    }

    function checkSavedCsc() {
      var v = savedCsc.value, c = digits(v), n = +savedCsc.dataset.length || 3;
      if (!v.trim()) return M.err_csc_required;
      if (c.length !== n || c.length !== v.trim().length) return fmt(M.err_csc_invalid, n);
      return '';
    }
    function setSavedCscError(text) {
      savedCsc.setAttribute('aria-invalid', text ? 'true' : 'false');
      document.getElementById('kr-saved-csc-error').textContent = text || '';
    }

    function validateAll(show) {
      if (mode === 'saved') {
        if (chosenCard() && savedCsc) {
          var st = checkSavedCsc();
          if (show) setSavedCscError(st);
          if (!st) return { first: null, error: null };
          return {
            first: savedCsc,
            error: { errorCode: 'CLIENT_300', errorMessage: 'invalid form data',
              children: [{ errorCode: 'CLIENT_303', errorMessage: st, field: 'securityCode' }] }
          };
        }
        if (chosenCard()) return { first: null, error: null };
        return {
          first: form.querySelector('input[name="saved"]'),
          error: { errorCode: 'CLIENT_311', errorMessage: 'please select a card' },
          message: M.wallet_none
        };
      }
      var first = null, children = [];
      ['pan', 'expiry', 'csc', 'holder'].forEach(function (n) {
        var t = check(n);
        if (show) setError(n, t);
        if (t) {
          if (!first) first = inputs[n];
          children.push({ errorCode: { pan: 'CLIENT_301', expiry: 'CLIENT_302', csc: 'CLIENT_303', holder: 'CLIENT_304' }[n], errorMessage: t, field: fieldNames[n] });
        }
      });
      return { first: first, error: children.length ? { errorCode: 'CLIENT_300', errorMessage: 'invalid form data', children: children } : null };
    }

    function noteValidity() {
      var ok = !validateAll(false).error;
      if (ok && !wasValid) toParent('valid');
      wasValid = ok;
    }

    function updateBrand() {
      var d = digits(pan.value);
      var b = d.length ? detectBrand(d) : null;
      if (b !== brand) {
        brand = b;
        brandEl.textContent = '';
        if (b) {
          // Screen readers hear "Card type: Visa", the eye sees "Visa".
          var sr = document.createElement('span');
          sr.className = 'sr-only';
          sr.textContent = fmt(M.brand_detected, NAMES[b]);
          var vis = document.createElement('span');
          vis.setAttribute('aria-hidden', 'true');
          vis.textContent = NAMES[b];
          brandEl.appendChild(sr);
          brandEl.appendChild(vis);
        }
        brandEl.setAttribute('data-brand', b || '');
        csc.maxLength = cscLength(b);
        if (walletForm && saveWrap) {
          // A card the wallet does not keep is not offered for saving.
          var keep = !b || !!WALLET_BRANDS[b];
          saveWrap.hidden = !keep;
          if (!keep && saveBox) saveBox.checked = false;
        }
        toParent('brand', { brand: b || '' });
      }
    }

    pan.addEventListener('input', function () {
      var before = pan.value.slice(0, pan.selectionStart || 0);
      var nBefore = digits(before).length;
      var d = digits(pan.value).slice(0, 19);
      updateBrand();
      var f = formatPAN(d, brand);
      if (f !== pan.value) {
        pan.value = f;
        var pos = 0, seen = 0;
        while (pos < f.length && seen < nBefore) { if (f[pos] !== ' ') seen++; pos++; }
        pan.setSelectionRange(pos, pos);
      }
      if (touched.pan) setError('pan', check('pan'));
      noteValidity();
    });
    exp.addEventListener('input', function (ev) {
      var d = digits(exp.value).slice(0, 4);
      if (d.length === 1 && d > '1') d = '0' + d;
      var deleting = ev.inputType && ev.inputType.indexOf('delete') === 0;
      var f = d.length > 2 || (d.length === 2 && !deleting) ? d.slice(0, 2) + '/' + d.slice(2) : d;
      if (f !== exp.value) exp.value = f;
      if (touched.expiry) setError('expiry', check('expiry'));
      noteValidity();
    });
    csc.addEventListener('input', function () {
      var d = digits(csc.value).slice(0, 4);
      if (d !== csc.value) csc.value = d;
      if (touched.csc) setError('csc', check('csc'));
      noteValidity();
    });
    holder.addEventListener('input', function () { noteValidity(); });
    if (savedCsc) {
      savedCsc.addEventListener('input', function () {
        var d = digits(savedCsc.value).slice(0, 4);
        if (d !== savedCsc.value) savedCsc.value = d;
        if (touched.savedCsc) setSavedCscError(checkSavedCsc());
        noteValidity();
      });
      savedCsc.addEventListener('blur', function () {
        if (savedCsc.value) touched.savedCsc = true;
        if (touched.savedCsc) setSavedCscError(checkSavedCsc());
        toParent('blur', { field: 'securityCode' });
      });
      savedCsc.addEventListener('focus', function () { toParent('focus', { field: 'securityCode' }); });
    }

    Object.keys(inputs).forEach(function (n) {
      inputs[n].addEventListener('blur', function () {
        if (inputs[n].value) touched[n] = true;
        if (touched[n]) setError(n, check(n));
        toParent('blur', { field: fieldNames[n] });
      });
      inputs[n].addEventListener('focus', function () { toParent('focus', { field: fieldNames[n] }); });
    });
    var confirmDlg = document.getElementById('kr-confirm');
    document.addEventListener('keydown', function (ev) {
      // Escape in the confirmation dialog closes the dialog, not the pop-in.
      if (ev.key === 'Escape' && !(confirmDlg && confirmDlg.open)) toParent('escape');
    });

    function showAlert(text) {
      alertEl.textContent = text || '';
    }
    // While the form shows mistakes its title starts with "Error: ", as
    // the page the server sends back without this script does (GOV.UK's
    // pattern), and loses it once the form is sent without them.
    var errorPrefix = M.title_error || '';
    var baseTitle = document.title;
    if (errorPrefix && baseTitle.indexOf(errorPrefix) === 0) baseTitle = baseTitle.slice(errorPrefix.length);
    function markTitle(mistakes) {
      document.title = mistakes ? errorPrefix + baseTitle : baseTitle;
    }
    // While the payment runs the button stays focusable (aria-disabled, not
    // disabled): a disabled button drops the keyboard focus to the body and
    // a screen reader's user loses their place. The click guard below and
    // the submit handler's test of busy keep a second post from leaving.
    function setBusy(b) {
      busy = b;
      pay.disabled = disabledByParent && !b;
      if (b) pay.setAttribute('aria-disabled', 'true'); else pay.removeAttribute('aria-disabled');
      pay.setAttribute('aria-busy', b ? 'true' : 'false');
      pay.textContent = b ? (M.processing || payLabel) : payLabel;
    }
    // A click, Enter or Space on the busy button does nothing (not even the
    // form's submit event).
    pay.addEventListener('click', function (ev) { if (busy) ev.preventDefault(); });

    function post(action, fields) {
      var f = document.createElement('form');
      f.method = 'post';
      f.action = action;
      f.hidden = true;
      Object.keys(fields).forEach(function (k) {
        var i = document.createElement('input');
        i.type = 'hidden'; i.name = k; i.value = fields[k];
        f.appendChild(i);
      });
      document.body.appendChild(f);
      f.submit();
    }

    function buildReturn(r) {
      var f = document.createElement('form');
      f.id = 'kr-return';
      f.method = r.method;
      f.action = r.action;
      r.fields.forEach(function (x) {
        var i = document.createElement('input');
        i.type = 'hidden'; i.name = x.name; i.value = x.value;
        f.appendChild(i);
      });
      var p = document.createElement('p');
      p.className = 'redirecting';
      p.textContent = M.redirecting || '';
      f.appendChild(p);
      var b = document.createElement('button');
      b.type = 'submit'; b.className = 'pay';
      b.textContent = M.return_to_shop || '';
      f.appendChild(b);
      return f;
    }

    function toObject(list) {
      if (!list) return null;
      var o = {};
      list.forEach(function (x) { o[x.name] = x.value; });
      return o;
    }

    function handle(res) {
      switch (res.step) {
        case 'challenge':
          post(res.action, { sealed: res.sealed });
          return;
        case 'done': {
          form.hidden = true;
          var fin = document.getElementById('kr-final');
          var fm = document.getElementById('kr-final-message');
          // The region was in the page from the start, empty: only its
          // content changes, so that it is announced (a region shown, or
          // given a new role, with its text at once may be missed).
          fin.className = 'final ' + (res.accepted ? 'ok' : 'ko');
          fm.textContent = res.message || '';
          if (res.detail) {
            var d = document.createElement('span');
            d.className = 'detail';
            d.textContent = res.detail;
            fm.appendChild(document.createTextNode(' '));
            fm.appendChild(d);
          }
          // The form (and the focused pay button) is gone: the focus goes
          // to the message, so the keyboard keeps a place and it is read.
          fm.focus();
          var rf = null;
          if (res.return) { rf = buildReturn(res.return); fin.appendChild(rf); }
          finish(!!res.accepted, toObject(res.result), res.error, rf);
          return;
        }
        case 'error':
          setBusy(false);
          showAlert(res.message);
          // The form cannot be sent again: the button is disabled, so the
          // focus it held goes to the message first.
          alertEl.focus();
          pay.disabled = true;
          if (res.error) toParent('error', { error: res.error });
          return;
        default: { // 'form'
          setBusy(false);
          var fe = res.fieldErrors || {};
          markTitle(!!res.fieldErrors);
          Object.keys(inputs).forEach(function (n) { if (fe[n] !== undefined) setError(n, fe[n]); });
          if (savedCsc && fe.saved_csc !== undefined) setSavedCscError(fe.saved_csc);
          showAlert(res.message);
          if (res.attemptsText !== undefined) attemptsEl.textContent = res.attemptsText || '';
          if (!res.fieldErrors) { // as Lyra: the CVV is cleared after a refusal
            csc.value = '';
            if (savedCsc) savedCsc.value = '';
          }
          if (res.error) toParent('error', { error: res.error, result: toObject(res.result) });
          alertEl.focus();
        }
      }
    }

    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (busy || disabledByParent) return;
      Object.keys(inputs).forEach(function (n) { touched[n] = true; });
      touched.savedCsc = true;
      var v = validateAll(true);
      if (v.error) {
        markTitle(true);
        showAlert(v.message || M.form_errors);
        toParent('error', { error: v.error });
        if (v.first) v.first.focus();
        return;
      }
      showAlert('');
      markTitle(false);
      setBusy(true);
      var body;
      if (mode === 'saved') {
        body = new URLSearchParams();
        body.set('saved', chosenCard().value);
        if (savedCsc) body.set('saved_csc', savedCsc.value);
      } else {
        var fd = new FormData(form);
        fd.delete('saved');
        body = new URLSearchParams(fd);
      }
      // The CVV leaves the field as soon as it is sent: nothing keeps it.
      fetch(form.action, {
        method: 'POST',
        headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: body.toString(),
        credentials: 'same-origin',
        cache: 'no-store'
      }).then(function (r) { return r.json(); })
        .then(handle)
        .catch(function () {
          // No answer, or not the service's: the card may have reached
          // the payment service and been charged, so the buyer does not
          // read that it was not, and the form is not sent again from
          // here (reloading the page shows where the payment stands).
          setBusy(false);
          showAlert(M.unconfirmed);
          alertEl.focus();
          pay.disabled = true;
          toParent('error', { error: { errorCode: 'CLIENT_999', errorMessage: 'technical error' } });
        });
    });

    // Commands from the merchant page (KR.submit, KR.validateForm,
    // KR.button.*), accepted only from the parent at the expected origin.
    window.addEventListener('message', function (ev) {
      if (!inFrame || ev.source !== window.parent || ev.origin !== parentOrigin) return;
      var m = ev.data;
      if (!m || m.source !== SOURCE) return;
      switch (m.type) {
        case 'submit':
          if (form.requestSubmit) form.requestSubmit(); else pay.click();
          break;
        case 'validate': {
          Object.keys(inputs).forEach(function (n) { touched[n] = true; });
          touched.savedCsc = true;
          var v = validateAll(true);
          toParent('validated', { id: m.id, error: v.error });
          break;
        }
        case 'setLabel':
          payLabel = String(m.label || '').replace('%amount-and-currency%', form.dataset.amount || '');
          if (!busy) pay.textContent = payLabel;
          break;
        case 'disable':
          // While busy the button keeps its focus: setBusy(false)
          // disables it then.
          disabledByParent = true; if (!busy) pay.disabled = true; break;
        case 'enable':
          disabledByParent = false; if (!busy) pay.disabled = false; break;
        case 'focusLast': {
          // Shift+Tab from the pop-in's close button: the last field.
          var all = document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]');
          for (var i = all.length - 1; i >= 0; i--) {
            if (!all[i].disabled && all[i].tabIndex >= 0 && all[i].getClientRects().length) { all[i].focus(); break; }
          }
          break;
        }
        case 'focus':
          if (mode === 'saved' && savedCsc) savedCsc.focus();
          else if (mode === 'saved' && chosenCard()) chosenCard().focus(); else pan.focus();
          break;
      }
    });

    if (walletEl) wallet();

    // ---- The buyer's wallet: tabs, choosing a card, deleting one ----

    function wallet() {
      var tabSaved = document.getElementById('kr-tab-saved');
      var tabNew = document.getElementById('kr-tab-new');
      var panelSaved = document.getElementById('kr-panel-saved');
      var panelNew = document.getElementById('kr-panel-new');
      var msgEl = document.getElementById('kr-wallet-msg');
      var confirmText = document.getElementById('kr-confirm-text');
      var pending = null;

      function say(text) { msgEl.textContent = text || ''; }

      function setMode(m, focus) {
        mode = m;
        var saved = m === 'saved';
        tabSaved.setAttribute('aria-selected', saved ? 'true' : 'false');
        tabNew.setAttribute('aria-selected', saved ? 'false' : 'true');
        tabSaved.tabIndex = saved ? 0 : -1;
        tabNew.tabIndex = saved ? -1 : 0;
        panelSaved.hidden = !saved;
        panelNew.hidden = saved;
        showAlert('');
        wasValid = false;
        noteValidity();
        if (focus) (saved ? tabSaved : tabNew).focus();
        walletEl.setAttribute('data-mode', m);
      }
      // The tabs are submit buttons of the tabs' form, which loads the
      // page with the tab's panel (for a buyer without this script): here
      // the panel is shown in place, and one tab is in the Tab order.
      tabSaved.tabIndex = mode === 'saved' ? 0 : -1;
      tabNew.tabIndex = mode === 'saved' ? -1 : 0;
      tabSaved.addEventListener('click', function (ev) { ev.preventDefault(); setMode('saved'); });
      tabNew.addEventListener('click', function (ev) { ev.preventDefault(); setMode('new'); });
      tabSaved.parentNode.addEventListener('keydown', function (ev) {
        if (ev.key === 'ArrowLeft' || ev.key === 'ArrowRight') {
          ev.preventDefault();
          setMode(mode === 'saved' ? 'new' : 'saved', true);
        }
      });
      panelSaved.addEventListener('change', function (ev) {
        // Choosing a card clears the alert; the security code's change
        // (fired as it loses focus, on the way to the pay button) must not:
        // the form would move under the buyer's click.
        if (ev.target.name !== 'saved') return;
        var li = ev.target.closest('.saved-card');
        if (savedCsc && li && li.dataset.cscLength) {
          savedCsc.dataset.length = li.dataset.cscLength;
          savedCsc.maxLength = +li.dataset.cscLength;
          document.getElementById('kr-saved-csc-hint').textContent = li.dataset.cscHint || '';
          if (touched.savedCsc) setSavedCscError(checkSavedCsc());
        }
        showAlert(''); noteValidity();
      });

      // A one-click form's card is the merchant's: nothing to delete.
      if (!confirmDlg) return;

      function cards() { return panelSaved.querySelectorAll('.saved-card'); }

      // The last card gone, only a new card is left: its tab opens by itself.
      function afterDelete() {
        var left = cards();
        if (left.length === 0) {
          setMode('new');
          tabSaved.parentNode.hidden = true;
          panelSaved.hidden = true;
          walletEl.setAttribute('data-empty', 'true');
          pan.focus();
          return;
        }
        if (left.length === 1) left[0].querySelector('input[type="radio"]').checked = true;
        noteValidity();
        left[0].querySelector('input[type="radio"]').focus();
      }

      panelSaved.addEventListener('click', function (ev) {
        var t = ev.target.closest ? ev.target.closest('.trash') : null;
        if (!t) return;
        // The bin icon submits its form to a confirmation page for a buyer
        // without this script; here the dialog asks in place.
        ev.preventDefault();
        var li = t.closest('.saved-card');
        say('');
        if (li.dataset.subscription === 'true') { say(M.wallet_subscription); return; }
        if (walletEl.dataset.deletion === 'MANUAL') { say(M.wallet_manual); return; }
        pending = li;
        confirmText.textContent = fmt(M.wallet_confirm, li.dataset.last4);
        confirmDlg.showModal();
        // Open on the harmless choice: Enter right away must not delete.
        // (Not the autofocus attribute: refused in a cross-origin frame.)
        document.getElementById('kr-confirm-no').focus();
      });
      document.getElementById('kr-confirm-no').addEventListener('click', function () {
        confirmDlg.close();
        if (pending) pending.querySelector('.trash').focus();
        pending = null;
      });
      document.getElementById('kr-confirm-yes').addEventListener('click', function () {
        var li = pending;
        pending = null;
        confirmDlg.close();
        if (!li) return;
        var body = new URLSearchParams();
        body.set('card', li.dataset.card);
        fetch(walletEl.dataset.deleteAction, {
          method: 'POST',
          headers: { 'Accept': 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
          body: body.toString(),
          credentials: 'same-origin',
          cache: 'no-store'
        }).then(function (r) { return r.json(); })
          .then(function (res) {
            // A card no longer in the wallet (deleted elsewhere since the
            // page was shown) leaves the list too, the answer told.
            if (res.result === 'deleted' || res.result === 'gone') {
              li.parentNode.removeChild(li);
              say(res.result === 'gone' ? res.message : fmt(M.wallet_deleted, li.dataset.last4));
              afterDelete();
              return;
            }
            if (res.result === 'subscription') li.setAttribute('data-subscription', 'true');
            say(res.message || M.wallet_delete_failed);
          })
          .catch(function () { say(M.wallet_delete_failed); });
      });
    }

    // A refusal rendered by the server (after a challenge) is told to the
    // merchant page like one answered in JSON.
    var e0 = errorFrom(alertEl);
    ready('form');
    if (e0) toParent('error', { error: e0, result: resultFields(document.getElementById('kr-result')) });
    if (alertEl.textContent) alertEl.focus();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
